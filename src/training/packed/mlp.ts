import type * as tfTypes from '@tensorflow/tfjs';
import type { Params } from '../../space/distribution.js';
import { PIXELS, type Tf } from '../data.js';
import { deriveSeed, FastRng } from '../../random.js';
import { UsageError } from '../../errors.js';
import { batchSize, epochDropoutRng, numParam } from '../models/common.js';
import { MlpNet, mlpModel, mlpNativeStep } from '../models/mlp.js';
import type { Handle, NativeOps } from '../native-ops.js';
import { batchMatMul, encodeSlot, replaceVariable, slot, stackSlots, withSingleNet, type PackedModelSpec, type PackedNet, type PackMember, type PackScalars } from './packed-net.js';

type T3 = tfTypes.Tensor3D;

/**
 * Widths that may share a pack: the bucket of H is the b with RATIO^b <= H < RATIO^(b+1),
 * so the widest member is less than RATIO times the narrowest and the padded units are
 * less than 1 - 1/RATIO = 25% of the pack's hidden units.
 */
export const WIDTH_RATIO = 4 / 3;

export function widthBucket(h: number): number {
  // The small epsilon keeps exact powers in their own bucket despite log rounding.
  return Math.floor(Math.log(h) / Math.log(WIDTH_RATIO) + 1e-9);
}

interface MlpMember {
  readonly hidden: number;
  readonly dropout: number;
  /** The single net's dropout seed; each epoch's masks come from (seed, epoch) as there. */
  readonly dropoutSeed: number;
  /** The member's dropout stream for the current epoch. */
  rng: FastRng;
}

function mlpShape(params: Params): { hidden: number; dropout: number } {
  const H = numParam(params, 'num_hiddens', 256);
  if (!Number.isSafeInteger(H) || H < 1) throw new UsageError(`num_hiddens must be a positive integer, got ${H}`);
  const p = numParam(params, 'dropout', 0);
  if (!(p >= 0 && p < 1)) throw new UsageError(`dropout must be in [0, 1), got ${p}`);
  return { hidden: H, dropout: p };
}

/** Pad axis `axis` of t with zeros up to `n`. */
function padAxis(tf: Tf, t: tfTypes.Tensor, axis: number, n: number): tfTypes.Tensor {
  const have = t.shape[axis]!;
  if (have === n) return t;
  const pads = t.shape.map((_, i): [number, number] => (i === axis ? [0, n - have] : [0, 0]));
  return tf.pad(t, pads);
}

/**
 * K MLPs 784 -> H_k -> 10 padded to the widest, Hmax: W1 [K, 785, Hmax], W2 [K, Hmax, 10],
 * b2 [K, 1, 10]. The padded columns of W1 and rows of W2 start at zero and stay exactly
 * zero: their units output relu(0) = 0, so their rows of hd^T d are 0, and sign(hd) = 0
 * zeroes their part of dpre, so their columns of x^T dpre are 0. The step is the single
 * model's lean step (see models/mlp.ts) with batched matMuls and per-slot scalars;
 * members without dropout get a mask of ones and a scale of 1, which change nothing.
 */
export class PackedMlpNet implements PackedNet {
  members: PackMember[] = [];
  private shapes: MlpMember[] = [];
  private W1: tfTypes.Variable | null = null;
  private W2: tfTypes.Variable | null = null;
  private b2: tfTypes.Variable | null = null;
  private keepScale: tfTypes.Tensor3D | null = null;
  private hmax = 0;

  constructor(private readonly tf: Tf) {}

  get width(): number {
    return this.hmax;
  }

  regroup(keep: readonly number[], joins: readonly PackMember[]): void {
    const tf = this.tf;
    const joinShapes = joins.map((m) => mlpShape(m.params));
    const shapes: MlpMember[] = [
      ...keep.map((k) => this.shapes[k]!),
      ...joins.map((m, j) => {
        const dropoutSeed = deriveSeed(deriveSeed(m.seed, 'mlp-init'), 'dropout');
        return { ...joinShapes[j]!, dropoutSeed, rng: new FastRng(dropoutSeed) };
      }),
    ];
    const hmax = shapes.reduce((a, s) => Math.max(a, s.hidden), 0);
    const [W1, W2, b2] = [this.W1, this.W2, this.b2];
    const stacks = tf.tidy((): tfTypes.Tensor[] => {
      const w1: tfTypes.Tensor[] = [];
      const w2: tfTypes.Tensor[] = [];
      const bb: tfTypes.Tensor[] = [];
      keep.forEach((k) => {
        const h = this.shapes[k]!.hidden;
        w1.push(padAxis(tf, tf.slice(slot(tf, W1!, k), [0, 0], [PIXELS + 1, h]), 1, hmax));
        w2.push(padAxis(tf, tf.slice(slot(tf, W2!, k), [0, 0], [h, 10]), 0, hmax));
        bb.push(slot(tf, b2!, k));
      });
      joins.forEach((m, j) => {
        const { hidden, dropout } = joinShapes[j]!;
        withSingleNet(tf, new MlpNet(tf, hidden, dropout, deriveSeed(m.seed, 'mlp-init')), m, (net) => {
          w1.push(padAxis(tf, tf.clone(net.W1), 1, hmax));
          w2.push(padAxis(tf, tf.clone(net.W2), 0, hmax));
          bb.push(tf.reshape(tf.clone(net.b2), [1, 10]));
        });
      });
      return w1.length ? [stackSlots(tf, w1), stackSlots(tf, w2), stackSlots(tf, bb)] : [];
    });
    this.members = [...keep.map((k) => this.members[k]!), ...joins];
    this.shapes = shapes;
    this.hmax = hmax;
    this.keepScale?.dispose();
    this.keepScale = null;
    if (stacks.length === 0) {
      for (const v of [W1, W2, b2]) v?.dispose();
      this.W1 = this.W2 = this.b2 = null;
      return;
    }
    this.W1 = replaceVariable(tf, W1, stacks[0]!);
    this.W2 = replaceVariable(tf, W2, stacks[1]!);
    this.b2 = replaceVariable(tf, b2, stacks[2]!);
    tf.dispose(stacks);
    if (shapes.some((s) => s.dropout > 0)) {
      const v = Float32Array.from(shapes, (s) => (s.dropout > 0 ? 1 / (1 - s.dropout) : 1));
      this.keepScale = tf.keep(tf.tensor3d(v, [v.length, 1, 1], 'float32'));
    }
  }

  /** Member k's unpadded W1 [785, H], W2 [H, 10] and b2 [10], as its single net holds them. */
  saveSlot(k: number): Uint8Array {
    const tf = this.tf;
    const h = this.shapes[k]!.hidden;
    return encodeSlot(tf, () => [
      tf.slice(slot(tf, this.W1!, k), [0, 0], [PIXELS + 1, h]),
      tf.slice(slot(tf, this.W2!, k), [0, 0], [h, 10]),
      tf.reshape(slot(tf, this.b2!, k), [10]),
    ]);
  }

  startEpoch(epochs: readonly number[]): void {
    this.shapes.forEach((s, k) => {
      s.rng = epochDropoutRng(s.dropoutSeed, epochs[k]!);
    });
  }

  /**
   * Masks [K, rows, Hmax]: member k's values are drawn exactly as its single net draws a
   * [rows, H_k] mask; members without dropout get ones; padded units get 0.
   */
  private masks(rows: number): T3 | null {
    const m = this.maskValues(rows);
    return m === null ? null : this.tf.tensor3d(m, [this.shapes.length, rows, this.hmax], 'float32');
  }

  private maskValues(rows: number): Float32Array | null {
    if (this.keepScale === null) return null;
    const H = this.hmax;
    const K = this.shapes.length;
    const m = new Float32Array(K * rows * H);
    this.shapes.forEach((s, k) => {
      const base = k * rows * H;
      if (s.dropout === 0) {
        for (let r = 0; r < rows; r++) m.fill(1, base + r * H, base + r * H + s.hidden);
        return;
      }
      const keep = 1 / (1 - s.dropout);
      if (s.hidden === H) {
        s.rng.fillMask(m.subarray(base, base + rows * H), s.dropout, keep);
        return;
      }
      const own = new Float32Array(rows * s.hidden);
      s.rng.fillMask(own, s.dropout, keep);
      for (let r = 0; r < rows; r++) m.set(own.subarray(r * s.hidden, (r + 1) * s.hidden), base + r * H);
    });
    return m;
  }

  step(x: tfTypes.Tensor, y: T3, s: PackScalars): void {
    const tf = this.tf;
    const x3 = x as T3;
    const W1 = this.W1 as unknown as T3;
    const W2 = this.W2 as unknown as T3;
    const b2 = this.b2 as unknown as T3;
    const m = this.masks(y.shape[1]);
    const h = tf.relu(tf.matMul(x3, W1)) as T3;
    const hd = m === null ? h : (tf.mul(h, m) as T3);
    const p = tf.softmax(tf.add(tf.matMul(hd, W2), b2));
    const d = tf.mul(tf.sub(p, y), s.lrOverB) as T3;
    const dForH = this.keepScale === null ? d : (tf.mul(d, this.keepScale) as T3);
    const dpre = tf.mul(batchMatMul(tf, dForH, W2, false, true), tf.sign(hd)) as T3;
    this.W2!.assign(tf.sub(W2, batchMatMul(tf, hd, d, true, false)));
    this.b2!.assign(tf.sub(b2, tf.sum(d, 1, true)));
    this.W1!.assign(tf.sub(W1, batchMatMul(tf, x3, dpre, true, false)));
  }

  /**
   * MlpNet.nativeStep per slot, op for op (a mask of ones and a scale of 1 for members
   * without dropout change no bit; the bias gradient is ones·d as there).
   */
  nativeStep(ops: NativeOps, x: Handle, labels: Handle, s: PackScalars, rows: number): void {
    const values = this.maskValues(rows);
    const mask = values === null ? null : ops.upload([this.shapes.length, rows, this.hmax], values);
    try {
      mlpNativeStep(ops, {
        x,
        labels,
        mask,
        rows,
        slots: this.shapes.length,
        lrOverB: ops.id(s.lrOverB),
        keepScale: this.keepScale && ops.id(this.keepScale),
        vars: [this.W1!, this.W2!, this.b2!],
        set: (v, h) => ops.setVariable(this.tf, v, h),
      });
    } finally {
      if (mask !== null) ops.del(mask);
    }
  }

  logits(x: tfTypes.Tensor): T3 {
    const tf = this.tf;
    const h = tf.relu(tf.matMul(tf.expandDims(x, 0) as T3, this.W1 as unknown as T3)) as T3;
    return tf.add(tf.matMul(h, this.W2 as unknown as T3), this.b2!) as T3;
  }

  dispose(): void {
    for (const v of [this.W1, this.W2, this.b2, this.keepScale]) v?.dispose();
    this.W1 = this.W2 = this.b2 = this.keepScale = null;
    this.members = [];
    this.shapes = [];
  }
}

export const packedMlp: PackedModelSpec = {
  name: 'mlp',
  layout: 'flat1',
  evalChunk: 5000,
  shapeKey: (params: Params) => `w${widthBucket(mlpShape(params).hidden)}`,
  batchSize: (params: Params) => batchSize(params, mlpModel.defaults.batchSize),
  createNet: (tf: Tf) => new PackedMlpNet(tf),
};
