import type * as tfTypes from '@tensorflow/tfjs';
import type { Params } from '../../space/distribution.js';
import { TEST_ROW_ALIGN, type FashionTensors, type Tf } from '../data.js';
import { deriveSeed, FastRng } from '../../random.js';
import { UsageError } from '../../errors.js';
import { encodeVariables, loadVariables } from '../checkpoint.js';
import { nativeOps, type Handle, type NativeOps } from '../native-ops.js';

/** Read a positive finite number parameter. */
export function numParam(params: Params, name: string, fallback?: number): number {
  const v = params[name] ?? fallback;
  if (v === undefined) throw new UsageError(`parameter "${name}" is required`);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`parameter "${name}" must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

export function learningRate(params: Params): number {
  const lr = numParam(params, 'learning_rate');
  if (lr <= 0) throw new UsageError(`learning_rate must be > 0, got ${lr}`);
  return lr;
}

export function batchSize(params: Params, fallback: number): number {
  const b = numParam(params, 'batch_size', fallback);
  if (!Number.isSafeInteger(b) || b < 1) throw new UsageError(`batch_size must be a positive integer, got ${b}`);
  return b;
}

/**
 * PyTorch's default init for a dense/conv layer: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 * tf.randomUniform with a seed is deterministic (seedrandom), and runs once per trial.
 */
export function torchUniform(tf: Tf, shape: number[], fanIn: number, seed: number): tfTypes.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound, 'float32', seed);
}

/** Glorot/Xavier uniform: U(-sqrt(6/(fanIn+fanOut)), +...). d2l's init_cnn. */
export function xavierUniform(tf: Tf, shape: number[], fanIn: number, fanOut: number, seed: number): tfTypes.Tensor {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  return tf.randomUniform(shape, -bound, bound, 'float32', seed);
}

/**
 * The dropout generator of epoch `epochIndex` (0-based) for a net whose dropout stream is
 * seeded by `dropoutSeed`. Per epoch, not one stream per trial: a trial resumed from a
 * checkpoint draws the same masks as one never interrupted. Every trainer with dropout
 * (plain or packed) must use this.
 */
export function epochDropoutRng(dropoutSeed: number, epochIndex: number): FastRng {
  return new FastRng(deriveSeed(dropoutSeed, 'epoch', epochIndex));
}

/** A batch handed to a step: rows gathered on the backend. */
export interface Batch {
  readonly x: tfTypes.Tensor;
  readonly y: tfTypes.Tensor2D;
  /** Rows in this batch (the last batch of an epoch may be short). */
  readonly size: number;
}

/**
 * Seeded minibatch order. Per epoch one JS permutation; per batch the indices are uploaded
 * as a fresh int32 tensor (tfjs-node's GatherV2 reads its indices back to validate them,
 * free while they are still JS values, a sync read after a Slice op) and the pixels are
 * gathered on the backend. The one-hot labels are built in JS from the label bytes and
 * uploaded: 10 floats a row cost less than a second gather. Pixels never leave the backend.
 */
export class EpochBatches {
  readonly n: number;
  constructor(
    private readonly tf: Tf,
    private readonly data: FashionTensors,
    readonly batchSize: number,
    private readonly seed: number,
  ) {
    this.n = data.nTrain;
  }

  /** Number of steps per epoch (the last batch may be short, as in d2l's DataLoader). */
  get steps(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  /**
   * Call `visit` once per batch with the batch's row indices into the training set, in this
   * epoch's seeded order (a view into one permutation: copy it to keep it).
   */
  forEachIndices(epochIndex: number, visit: (idx: Int32Array) => void): void {
    const perm = new FastRng(deriveSeed(this.seed, 'epoch', epochIndex)).permutation(this.n);
    const B = this.batchSize;
    for (let start = 0; start < this.n; start += B) visit(perm.subarray(start, Math.min(start + B, this.n)));
  }

  /** Run `step` once per batch, each inside its own tf.tidy. */
  forEach(epochIndex: number, step: (b: Batch) => void): void {
    const tf = this.tf;
    const labels = this.data.trainLabelBytes;
    this.forEachIndices(epochIndex, (idx) => {
      const size = idx.length;
      // A fresh array per step: the cpu and wasm backends keep a reference to it.
      const oh = new Float32Array(size * 10);
      for (let i = 0; i < size; i++) oh[i * 10 + labels[idx[i]!]!] = 1;
      tf.tidy(() => {
        const x = this.data.gatherTrain(tf.tensor1d(idx, 'int32'));
        step({ x, y: tf.tensor2d(oh, [size, 10], 'float32'), size });
      });
    });
  }

  /**
   * The same batches as {@link forEach} as raw eager handles (tensorflow backend only): the
   * row indices and the int32 class labels are uploaded, the pixels gathered on the
   * backend. `step` must not free `x` or `labels`.
   */
  forEachNative(ops: NativeOps, epochIndex: number, step: (x: Handle, labels: Handle, size: number) => void): void {
    const labelBytes = this.data.trainLabelBytes;
    this.forEachIndices(epochIndex, (idx) => {
      const size = idx.length;
      const lab = new Int32Array(size);
      for (let i = 0; i < size; i++) lab[i] = labelBytes[idx[i]!]!;
      const ih = ops.upload([size], idx);
      const labels = ops.upload([size], lab);
      let x: Handle;
      try {
        x = this.data.gatherTrainNative(ops, ih);
      } finally {
        ops.del(ih);
      }
      try {
        step(x, labels, size);
      } finally {
        ops.del(x);
        ops.del(labels);
      }
    });
  }
}

/**
 * Test-set misclassification rate: logits in chunks of `chunk` rows, wrong counts summed
 * on the backend, one dataSync of one number at the end.
 */
export function testError(tf: Tf, data: FashionTensors, chunk: number, logits: (x: tfTypes.Tensor) => tfTypes.Tensor): number {
  // Whole multiples of TEST_ROW_ALIGN rows: every chunk is then a view on the shared
  // dataset rather than a copy (the count is the same however the rows are chunked).
  if (chunk > TEST_ROW_ALIGN) chunk -= chunk % TEST_ROW_ALIGN;
  const wrong = tf.tidy(() => {
    let acc: tfTypes.Tensor | undefined;
    for (let start = 0; start < data.nTest; start += chunk) {
      const size = Math.min(chunk, data.nTest - start);
      const x = size === data.nTest ? data.testX : data.testRows(start, size);
      const y = size === data.nTest ? data.testLabels : tf.slice(data.testLabels, start, size);
      const w = tf.sum(tf.cast(tf.notEqual(tf.argMax(logits(x), 1), y), 'int32'));
      acc = acc === undefined ? w : tf.add(acc, w);
    }
    return acc!;
  });
  try {
    return wrong.dataSync()[0]! / data.nTest;
  } finally {
    wrong.dispose();
  }
}

/** tf.keep a scalar for the life of a trainer. */
export function constScalar(tf: Tf, v: number): tfTypes.Scalar {
  return tf.keep(tf.scalar(v, 'float32'));
}

/** Per-step constants, uploaded once per trainer. */
export interface StepScalars {
  /** The learning rate (autograd steps use the mean loss). */
  readonly lr: tfTypes.Scalar;
  /** lr / batch rows: lean steps fold the mean's 1/B and the rate into one multiply. */
  readonly lrOverB: tfTypes.Scalar;
  /** Rows in the batch. */
  readonly rows: number;
}

/** A network whose parameters are tf.Variables updated by plain SGD. */
export interface Net {
  /** Hand-derived gradient step on one batch (called inside tf.tidy). */
  leanStep(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars): void;
  /**
   * The lean step as raw TensorFlow eager ops, for the tensorflow backend (the same math;
   * labels are int32 class indices). Optional: without it the trainer runs `leanStep`.
   * Frees every handle it creates; must not free `x` or `labels`.
   */
  nativeStep?(ops: NativeOps, x: Handle, labels: Handle, s: StepScalars): void;
  /** The same update via tf.variableGrads of the mean cross-entropy (inside tf.tidy). */
  autogradStep(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars): void;
  /** Inference logits (no dropout). */
  logits(x: tfTypes.Tensor): tfTypes.Tensor;
  /** The variables: tests, and the whole state a checkpoint saves. */
  readonly variables: readonly tfTypes.Variable[];
  /**
   * Called before each epoch's first step. Randomness used inside steps (dropout masks)
   * must be derived from the epoch here, so that a run resumed from a checkpoint draws
   * the same masks as one never interrupted.
   */
  startEpoch?(epochIndex: number): void;
  dispose(): void;
}

/** Minibatch SGD over seeded epochs: the Trainer every built-in model uses. */
export class SgdTrainer {
  private readonly batches: EpochBatches;
  private readonly scalars = new Map<number, StepScalars>();
  private readonly lrScalar: tfTypes.Scalar;
  private disposed = false;

  constructor(
    private readonly tf: Tf,
    private readonly data: FashionTensors,
    private readonly net: Net,
    readonly batchSize: number,
    private readonly lr: number,
    seed: number,
    private readonly kind: 'lean' | 'autograd',
    private readonly evalChunk: number,
  ) {
    this.batches = new EpochBatches(tf, data, batchSize, deriveSeed(seed, 'order'));
    this.lrScalar = constScalar(tf, lr);
  }

  private scalarsFor(rows: number): StepScalars {
    let s = this.scalars.get(rows);
    if (!s) this.scalars.set(rows, (s = { lr: this.lrScalar, lrOverB: constScalar(this.tf, this.lr / rows), rows }));
    return s;
  }

  trainEpoch(epochIndex: number): void {
    if (this.disposed) throw new Error('trainer is disposed');
    const lean = this.kind === 'lean';
    this.net.startEpoch?.(epochIndex);
    const ops = lean && this.net.nativeStep ? nativeOps(this.tf) : null;
    if (ops) {
      this.batches.forEachNative(ops, epochIndex, (x, labels, size) => this.net.nativeStep!(ops, x, labels, this.scalarsFor(size)));
      return;
    }
    this.batches.forEach(epochIndex, ({ x, y, size }) => {
      const s = this.scalarsFor(size);
      if (lean) this.net.leanStep(x, y, s);
      else this.net.autogradStep(x, y, s);
    });
  }

  validationError(): number {
    if (this.disposed) throw new Error('trainer is disposed');
    return testError(this.tf, this.data, this.evalChunk, (x) => this.net.logits(x));
  }

  /** Checkpoint state: the variables' values (plain SGD keeps no other state). */
  saveState(): Uint8Array {
    if (this.disposed) throw new Error('trainer is disposed');
    return encodeVariables(this.net.variables);
  }

  loadState(data: Uint8Array): void {
    if (this.disposed) throw new Error('trainer is disposed');
    loadVariables(this.tf, this.net.variables, data);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.net.dispose();
    this.lrScalar.dispose();
    for (const s of this.scalars.values()) s.lrOverB.dispose();
    this.scalars.clear();
  }
}

/** SGD update for autograd steps: v <- v - lr * g, for every variable with a gradient. */
export function applyGrads(tf: Tf, vars: readonly tfTypes.Variable[], grads: tfTypes.NamedTensorMap, lr: tfTypes.Scalar): void {
  for (const v of vars) {
    const g = grads[v.name];
    if (g) v.assign(tf.sub(v, tf.mul(g, lr)));
  }
}

/**
 * a·b with transpose flags. tfjs-backend-wasm 4.22 runs a transposed matMul several times
 * slower than an explicit Transpose followed by a plain matMul (measured here: 28 ms vs
 * 6 ms for [256,785]^T x [256,128]), so on wasm the transposes are explicit; every other
 * backend gets the flags, which cost nothing there.
 */
export function matMulT(tf: Tf, a: tfTypes.Tensor2D, b: tfTypes.Tensor2D, transposeA: boolean, transposeB: boolean): tfTypes.Tensor2D {
  if ((transposeA || transposeB) && tf.getBackend() === 'wasm') {
    return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b);
  }
  return tf.matMul(a, b, transposeA, transposeB);
}
