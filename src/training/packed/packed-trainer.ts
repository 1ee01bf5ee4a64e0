import type * as tfTypes from '@tensorflow/tfjs';
import { fashionTensors, TEST_ROW_ALIGN, type FashionData, type FashionTensors, type Tf } from '../data.js';
import { deriveSeed, FastRng } from '../../random.js';
import { errorMessage, UsageError } from '../../errors.js';
import { learningRate } from '../models/common.js';
import { nativeOps, type NativeOps } from '../native-ops.js';
import type { PackedModelSpec, PackedNet, PackMember, PackScalars } from './packed-net.js';

interface SlotState {
  readonly member: PackMember;
  readonly lr: number;
  /** The seed of the member's minibatch order (as EpochBatches derives it for one trial). */
  readonly orderSeed: number;
  /** Epochs this member has trained. */
  epochs: number;
}

/**
 * Trains up to K trials of one model and batch size together: each epoch, every member
 * runs its own next epoch (its own shuffle, its own epoch index) through one batched step
 * per minibatch. Members join and leave between epochs; one that leaves is gone for good.
 * A member may join from a checkpoint (its `resume`, in the single trainer's format) and
 * then continues with the epoch after it; {@link saveState} gives each member's
 * checkpoint in that same format, so a trial resumes packed or alone alike.
 *
 * Per member, the minibatch order, init, dropout masks and update are those of the
 * single-trial SgdTrainer with the lean step; only the rounding of batched kernels differs.
 */
export class PackedTrainer {
  private readonly T: FashionTensors;
  private readonly net: PackedNet;
  private slots: SlotState[] = [];
  private readonly scalars = new Map<number, PackScalars>();
  private disposed = false;

  /**
   * @param batchSize the batch size every member must train with.
   * @throws RangeError for a bad trainSubset.
   */
  constructor(
    private readonly tf: Tf,
    data: FashionData,
    readonly spec: PackedModelSpec,
    readonly batchSize: number,
    trainSubset?: number,
  ) {
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    this.T = fashionTensors(tf, data, spec.layout, trainSubset);
    this.net = spec.createNet(tf);
  }

  /** Member ids in slot order. */
  get ids(): number[] {
    return this.slots.map((s) => s.member.id);
  }

  get size(): number {
    return this.slots.length;
  }

  /** Epochs each member has trained (including those before its checkpoint), in slot order. */
  get epochs(): number[] {
    return this.slots.map((s) => s.epochs);
  }

  /**
   * Member `id`'s weights after its last epoch, in the single-trial trainer's checkpoint
   * format (what its saveState gives).
   * @throws RangeError when `id` is not a member.
   */
  saveState(id: number): Uint8Array {
    if (this.disposed) throw new Error('trainer is disposed');
    const k = this.slots.findIndex((s) => s.member.id === id);
    if (k < 0) throw new RangeError(`${id} is not a member of the pack`);
    return this.net.saveSlot(k);
  }

  /**
   * Between epochs: drop the members in `leave`, then add `joins` (each starts at epoch 0,
   * or after its checkpoint's epoch). A joining member whose parameters are invalid, whose
   * batch size differs or whose checkpoint does not fit is not added; its id maps to the
   * reason in the returned map (the others are added).
   */
  regroup(leave: readonly number[], joins: readonly PackMember[]): Map<number, string> {
    if (this.disposed) throw new Error('trainer is disposed');
    const rejected = new Map<number, string>();
    const ok: SlotState[] = [];
    for (const m of joins) {
      try {
        if (this.slots.some((s) => s.member.id === m.id) || ok.some((s) => s.member.id === m.id)) throw new UsageError(`member ${m.id} is already in the pack`);
        const b = this.spec.batchSize(m.params);
        if (b !== this.batchSize) throw new UsageError(`batch_size ${b} cannot join a pack training with batch_size ${this.batchSize}`);
        this.spec.shapeKey(m.params);
        const from = m.resume?.epoch ?? 0;
        if (!Number.isSafeInteger(from) || from < 0) throw new UsageError(`member ${m.id}: checkpoint epoch must be a non-negative integer, got ${from}`);
        ok.push({ member: m, lr: learningRate(m.params), orderSeed: deriveSeed(m.seed, 'order'), epochs: from });
      } catch (e) {
        rejected.set(m.id, errorMessage(e));
      }
    }
    const gone = new Set(leave);
    const keep: number[] = [];
    this.slots.forEach((s, i) => {
      if (!gone.has(s.member.id)) keep.push(i);
    });
    // Members with a checkpoint join one at a time: a checkpoint that does not fit rejects
    // that member alone (the net's regroup changes nothing when it throws).
    const fresh = ok.filter((s) => !s.member.resume);
    const restored = ok.filter((s) => s.member.resume);
    if (keep.length === this.slots.length && ok.length === 0) return rejected;
    this.clearScalars();
    if (keep.length < this.slots.length || fresh.length > 0) {
      this.net.regroup(keep, fresh.map((s) => s.member));
      this.slots = [...keep.map((i) => this.slots[i]!), ...fresh];
    }
    for (const s of restored) {
      try {
        this.net.regroup(this.slots.map((_, i) => i), [s.member]);
        this.slots.push(s);
      } catch (e) {
        rejected.set(s.member.id, errorMessage(e));
      }
    }
    return rejected;
  }

  private clearScalars(): void {
    for (const s of this.scalars.values()) s.lrOverB.dispose();
    this.scalars.clear();
  }

  private scalarsFor(rows: number): PackScalars {
    let s = this.scalars.get(rows);
    if (!s) {
      const v = Float32Array.from(this.slots, (m) => m.lr / rows);
      s = { lrOverB: this.tf.keep(this.tf.tensor3d(v, [v.length, 1, 1], 'float32')) };
      this.scalars.set(rows, s);
    }
    return s;
  }

  /** One epoch for every member: member k runs its own epoch number `epochs_k`. */
  trainEpoch(): void {
    if (this.disposed) throw new Error('trainer is disposed');
    const K = this.slots.length;
    if (K === 0) return;
    const tf = this.tf;
    const n = this.T.nTrain;
    const B = this.batchSize;
    const perms = this.slots.map((s) => new FastRng(deriveSeed(s.orderSeed, 'epoch', s.epochs)).permutation(n));
    this.net.startEpoch?.(this.slots.map((s) => s.epochs));
    const ops = this.net.nativeStep ? nativeOps(tf) : null;
    if (ops?.hpoGemm) {
      this.nativeEpoch(ops, perms);
      for (const s of this.slots) s.epochs++;
      return;
    }
    const labels = this.T.trainLabelBytes;
    for (let start = 0; start < n; start += B) {
      const size = Math.min(B, n - start);
      const idx = new Int32Array(K * size);
      const oh = new Float32Array(K * size * 10);
      for (let k = 0; k < K; k++) {
        const part = perms[k]!.subarray(start, start + size);
        idx.set(part, k * size);
        const base = k * size;
        for (let i = 0; i < size; i++) oh[(base + i) * 10 + labels[part[i]!]!] = 1;
      }
      const s = this.scalarsFor(size);
      tf.tidy(() => {
        // Indices shaped [K, size] gather straight into [K, size, ...] (no Reshape op).
        const x = this.T.gatherTrain(tf.tensor2d(idx, [K, size], 'int32'));
        this.net.step(x, tf.tensor3d(oh, [K, size, 10], 'float32'), s);
      });
    }
    for (const s of this.slots) s.epochs++;
  }

  /**
   * The epoch's batches as raw eager handles (as EpochBatches.forEachNative for one trial).
   * With the net's fused epoch and the images kept as bytes, one op runs every minibatch of
   * the epoch for every slot; otherwise each minibatch's rows are gathered, then stepped.
   */
  private nativeEpoch(ops: NativeOps, perms: readonly Int32Array[]): void {
    const K = this.slots.length;
    const n = this.T.nTrain;
    const B = this.batchSize;
    const labelBytes = this.T.trainLabelBytes;
    if (this.net.fusedEpoch && this.T.trainSource) {
      // Row k: member k's whole shuffle and its labels.
      const idx = new Int32Array(K * n);
      const lab = new Int32Array(K * n);
      for (let k = 0; k < K; k++) {
        idx.set(perms[k]!, k * n);
        for (let i = 0; i < n; i++) lab[k * n + i] = labelBytes[perms[k]![i]!]!;
      }
      const ih = ops.upload([K, n], idx);
      const lh = ops.upload([K, n], lab);
      try {
        this.net.fusedEpoch(ops, ops.id(this.T.trainSource), ih, lh, this.scalarsFor(B), this.scalarsFor(n % B || B), B);
      } finally {
        ops.delAll([ih, lh]);
      }
      return;
    }
    for (let start = 0; start < n; start += B) {
      const size = Math.min(B, n - start);
      const idx = new Int32Array(K * size);
      const lab = new Int32Array(K * size);
      for (let k = 0; k < K; k++) {
        const part = perms[k]!.subarray(start, start + size);
        idx.set(part, k * size);
        for (let i = 0; i < size; i++) lab[k * size + i] = labelBytes[part[i]!]!;
      }
      const ih = ops.upload([K, size], idx);
      let x: number;
      try {
        x = this.T.gatherTrainNative(ops, ih);
      } finally {
        ops.del(ih);
      }
      const labels = ops.upload([K * size], lab);
      try {
        this.net.nativeStep!(ops, x, labels, this.scalarsFor(size), size);
      } finally {
        ops.delAll([x, labels]);
      }
    }
  }

  /** Test-set misclassification rate of every member, in slot order. One dataSync. */
  validationErrors(): number[] {
    if (this.disposed) throw new Error('trainer is disposed');
    const K = this.slots.length;
    if (K === 0) return [];
    const tf = this.tf;
    const T = this.T;
    // Chunks of whole TEST_ROW_ALIGN rows read the shared test rows in place (testRows);
    // a Slice would copy 15.7 MB per 5000 flat rows into the thread's malloc arena.
    const chunk = this.spec.evalChunk > TEST_ROW_ALIGN ? this.spec.evalChunk - (this.spec.evalChunk % TEST_ROW_ALIGN) : this.spec.evalChunk;
    const wrong = tf.tidy(() => {
      let acc: tfTypes.Tensor | undefined;
      for (let start = 0; start < T.nTest; start += chunk) {
        const size = Math.min(chunk, T.nTest - start);
        const x = size === T.nTest ? T.testX : T.testRows(start, size);
        const y = size === T.nTest ? T.testLabels : tf.slice(T.testLabels, start, size);
        const w = tf.sum(tf.cast(tf.notEqual(tf.argMax(this.net.logits(x), 2), y), 'int32'), 1);
        acc = acc === undefined ? w : tf.add(acc, w);
      }
      return acc!;
    });
    try {
      return Array.from(wrong.dataSync(), (c) => c / T.nTest);
    } finally {
      wrong.dispose();
    }
  }

  /** Free the pack's variables and scalars (not the shared dataset tensors). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.net.dispose();
    this.clearScalars();
    this.slots = [];
  }
}
