import type * as tfTypes from '@tensorflow/tfjs';
import type { Params } from '../../space/distribution.js';
import { fashionTensors, PIXELS, type FashionData, type Tf } from '../data.js';
import { deriveSeed, FastRng } from '../../random.js';
import { UsageError } from '../../errors.js';
import type { ModelSpec, Trainer, TrainerOptions } from './model.js';
import { ACTIVATIONS, DeepMlpNet, type Activation } from './deep-mlp.js';
import { NO_ATTRS, type Handle, type NativeOps } from '../native-ops.js';
import { hpoKernels } from '../hpo-kernels.js';

import { applyGrads, matMulT, batchSize, constScalar, epochDropoutRng, learningRate, numParam, SgdTrainer, torchUniform, type Net, type StepScalars } from './common.js';

/**
 * MLP 784 -> H (ReLU, inverted dropout) -> 10. The first layer's bias is the last row of
 * W1 [785, H] (inputs carry a 1 column); the second layer keeps an explicit b2.
 *
 * Lean step (m = dropout mask with values 0 or 1/(1-p), s = 1/(1-p)):
 *   h = relu(x W1); hd = h*m; p = softmax(hd W2 + b2); d = (p - y) * lr/B
 *   W2 -= hd^T d; b2 -= sum_rows(d)
 *   dpre = (d W2^T) * m * step(x W1) = ((d*s) W2^T) * sign(hd)
 *   W1 -= x^T dpre
 * sign(hd) is 1 exactly where the unit was active and kept, so one Sign op replaces
 * both the ReLU derivative and the mask, and the mask's scale moves onto the [B,10]
 * matrix d, the cheapest place to multiply.
 */
export class MlpNet implements Net {
  readonly W1: tfTypes.Variable;
  readonly W2: tfTypes.Variable;
  readonly b2: tfTypes.Variable;
  readonly variables: readonly tfTypes.Variable[];
  private readonly keepScale: tfTypes.Scalar | null;
  private rng: FastRng;
  private readonly dropoutSeed: number;
  /** This net's HpoDropoutMask stream (-1: none yet) and its id as an int32 scalar. */
  private maskStream = -1;
  private maskStreamId: tfTypes.Scalar | null = null;

  constructor(
    private readonly tf: Tf,
    readonly hidden: number,
    readonly dropout: number,
    seed: number,
  ) {
    const H = hidden;
    [this.W1, this.W2, this.b2] = tf.tidy(() => [
      tf.variable(tf.concat([torchUniform(tf, [PIXELS, H], PIXELS, deriveSeed(seed, 'W1')), torchUniform(tf, [1, H], PIXELS, deriveSeed(seed, 'b1'))], 0), true),
      tf.variable(torchUniform(tf, [H, 10], H, deriveSeed(seed, 'W2')), true),
      tf.variable(torchUniform(tf, [10], H, deriveSeed(seed, 'b2')), true),
    ]);
    this.variables = [this.W1, this.W2, this.b2];
    this.keepScale = dropout > 0 ? constScalar(tf, 1 / (1 - dropout)) : null;
    this.dropoutSeed = deriveSeed(seed, 'dropout');
    this.rng = new FastRng(this.dropoutSeed);
  }

  /** Masks of each epoch come from (seed, epoch): a resumed trial draws the same ones. */
  startEpoch(epochIndex: number): void {
    this.rng = epochDropoutRng(this.dropoutSeed, epochIndex);
    // The native steps draw the same stream with tfjs-hpo's HpoDropoutMask op (no mask
    // filled in JavaScript and uploaded per step); the JS steps use this.rng itself.
    const kernels = hpoKernels();
    if (kernels && this.keepScale !== null) {
      this.maskStream = kernels.dropoutStream(this.maskStream, this.rng.state(), FastRng.dropThreshold(this.dropout), 1 / (1 - this.dropout));
      this.maskStreamId ??= this.tf.keep(this.tf.scalar(this.maskStream, 'int32'));
    }
  }

  /** A fresh inverted-dropout mask [rows, H] (values 0 or 1/(1-p)), or null without dropout. */
  mask(rows: number): tfTypes.Tensor2D | null {
    const m = this.maskValues(rows);
    return m === null ? null : this.tf.tensor2d(m, [rows, this.hidden], 'float32');
  }

  /** The next mask's values (the same stream whichever step draws them). */
  private maskValues(rows: number): Float32Array | null {
    if (this.keepScale === null) return null;
    const m = new Float32Array(rows * this.hidden);
    this.rng.fillMask(m, this.dropout, 1 / (1 - this.dropout));
    return m;
  }

  logits(x: tfTypes.Tensor): tfTypes.Tensor {
    const tf = this.tf;
    const h = tf.relu(tf.matMul(x as tfTypes.Tensor2D, this.W1 as tfTypes.Tensor2D));
    return tf.add(tf.matMul(h, this.W2 as tfTypes.Tensor2D), this.b2);
  }

  leanStep(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars): void {
    this.leanStepMasked(x, y, s, this.mask(y.shape[0]));
  }

  autogradStep(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars): void {
    this.autogradStepMasked(x, y, s, this.mask(y.shape[0]));
  }

  /** The lean step with a given mask (tests pass a fixed one). */
  leanStepMasked(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars, m: tfTypes.Tensor2D | null): void {
    const tf = this.tf;
    const x2 = x as tfTypes.Tensor2D;
    const W2 = this.W2 as tfTypes.Tensor2D;
    const h = tf.relu(tf.matMul(x2, this.W1 as tfTypes.Tensor2D)) as tfTypes.Tensor2D;
    const hd = m === null ? h : (tf.mul(h, m) as tfTypes.Tensor2D);
    const p = tf.softmax(tf.add(tf.matMul(hd, W2), this.b2));
    const d = tf.mul(tf.sub(p, y), s.lrOverB) as tfTypes.Tensor2D;
    const dForH = this.keepScale === null || m === null ? d : (tf.mul(d, this.keepScale) as tfTypes.Tensor2D);
    const dpre = tf.mul(matMulT(tf, dForH, W2, false, true), tf.sign(hd)) as tfTypes.Tensor2D;
    this.W2.assign(tf.sub(W2, matMulT(tf, hd, d, true, false)));
    this.b2.assign(tf.sub(this.b2, tf.sum(d, 0)));
    this.W1.assign(tf.sub(this.W1, matMulT(tf, x2, dpre, true, false)));
  }

  nativeStep(ops: NativeOps, x: Handle, labels: Handle, s: StepScalars): void {
    let m: Handle | null = null;
    if (this.maskStreamId !== null && this.maskStream >= 0) {
      m = ops.run('HpoDropoutMask', NO_ATTRS, [ops.id(this.maskStreamId), ops.ints([s.rows, this.hidden])]);
    } else {
      const values = this.maskValues(s.rows);
      if (values !== null) m = ops.upload([s.rows, this.hidden], values);
    }
    try {
      this.nativeStepMasked(ops, x, labels, s, m);
    } finally {
      if (m !== null) ops.del(m);
    }
  }

  /** The lean step as TF eager ops with a given mask handle (tests pass a fixed one); see {@link mlpNativeStep}. */
  nativeStepMasked(ops: NativeOps, x: Handle, labels: Handle, s: StepScalars, mask: Handle | null): void {
    mlpNativeStep(ops, {
      x,
      labels,
      mask,
      rows: s.rows,
      slots: null,
      lrOverB: ops.id(s.lrOverB),
      keepScale: this.keepScale && ops.id(this.keepScale),
      vars: [this.W1, this.W2, this.b2],
      set: (v, h) => ops.setVariable(this.tf, v, h),
    });
  }

  /** Reference: the same forward pass, gradients by tf.variableGrads. */
  autogradStepMasked(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars, m: tfTypes.Tensor2D | null): void {
    const tf = this.tf;
    const { grads } = tf.variableGrads(() => {
      const h = tf.relu(tf.matMul(x as tfTypes.Tensor2D, this.W1 as tfTypes.Tensor2D));
      const hd = m === null ? h : tf.mul(h, m);
      return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(hd, this.W2 as tfTypes.Tensor2D), this.b2)) as tfTypes.Scalar;
    }, [...this.variables]);
    applyGrads(tf, this.variables, grads, s.lr);
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    this.keepScale?.dispose();
    this.maskStreamId?.dispose();
  }
}

/** What {@link mlpNativeStep} works on: one net, or K stacked slots of a packed net. */
export interface MlpStepIo {
  /** Pixels [rows, 785], or [K, rows, 785] for K slots. */
  readonly x: Handle;
  /** int32 class indices [rows] (or [K * rows]). */
  readonly labels: Handle;
  /** Dropout mask [rows, H] (or [K, rows, H]) with 0 or 1/(1-p), or null without dropout. */
  readonly mask: Handle | null;
  readonly rows: number;
  /** K for a packed net (variables [K, ...], per-slot scalars [K, 1, 1]); null for one net. */
  readonly slots: number | null;
  /** lr / rows: a scalar, or [K, 1, 1]. */
  readonly lrOverB: Handle;
  /** 1 / (1 - p) (scalar or [K, 1, 1]), or null; only used with a mask. */
  readonly keepScale: Handle | null;
  /** W1 [785, H], W2 [H, 10], b2 [10] (packed: [K, 785, H], [K, H, 10], [K, 1, 10]). */
  readonly vars: readonly [tfTypes.Variable, tfTypes.Variable, tfTypes.Variable];
  /** Make the variable hold a new handle (taking it over). */
  set(v: tfTypes.Variable, h: Handle): void;
}

/**
 * The MLP's lean step as TF eager ops, for one net or a packed net's K slots alike (so a
 * packed slot runs exactly the ops of the net alone; row-wise ops see [K * rows, ...]):
 *   h = relu(x W1); hd = h * m; g = xent'(hd W2 + b2) (SparseSoftmaxCrossEntropyWithLogits);
 *   d = g lr/B; dpre = ReluGrad((d s) W2^T, hd); W2 -= hd^T d; b2 -= sum_rows(d); W1 -= x^T dpre.
 * ReluGrad(t, hd) = t * (hd > 0) replaces Sign and Mul (hd >= 0, so the same values).
 * With tfjs-hpo's kernels the relu and mask, the ReluGrad and the W updates happen in the
 * stores of the products that feed them (NativeOps.matMulRelu, matMulReluGrad, matMulSub):
 * five ops fewer per step, and as many fewer passes over [rows, H], W1 and W2.
 */
export function mlpNativeStep(ops: NativeOps, io: MlpStepIo): void {
  const [vW1, vW2, vb2] = io.vars;
  const W1 = ops.id(vW1);
  const W2 = ops.id(vW2);
  const b2 = ops.id(vb2);
  const { x, mask, rows, slots } = io;
  // relu(x W1) * m in one op with tfjs-hpo's kernels (the relu and mask in the GEMM's store).
  const hd = ops.matMulRelu(x, W1, mask);
  const z0 = ops.matMul(hd, W2);
  const z = ops.bin('Add', z0, b2);
  ops.del(z0);
  // Packed nets run only with tfjs-hpo's kernels, whose xent gradient takes [K, rows, 10].
  const g = ops.xentGrad(z, io.labels);
  ops.del(z);
  const d = ops.bin('Mul', g, io.lrOverB);
  ops.del(g);
  const dForH = mask !== null && io.keepScale !== null ? ops.bin('Mul', d, io.keepScale) : d;
  const dpre = ops.matMulReluGrad(dForH, W2, hd);
  if (dForH !== d) ops.del(dForH);
  const gb2 = biasGrad(ops, d, rows, slots !== null);
  io.set(vW2, ops.matMulSub(W2, hd, d, true, false));
  ops.del(hd);
  ops.del(d);
  io.set(vb2, ops.subFree(b2, gb2));
  io.set(vW1, ops.matMulSub(W1, x, dpre, true, false));
  ops.del(dpre);
}

/**
 * The rows of d summed: with tfjs-hpo's GEMM as ones·d (for a packed d [K, rows, 10]:
 * [K, 1, 10], b2's shape), so a packed slot sums exactly as the net alone; else TF's Sum.
 */
function biasGrad(ops: NativeOps, d: Handle, rows: number, packed: boolean): Handle {
  if (packed) return ops.sumRows(d, rows, true);
  if (!ops.hpoGemm) return ops.sum(d, [0]);
  const r = ops.sumRows(d, rows, false);
  const g = ops.reshape(r, [10]);
  ops.del(r);
  return g;
}

/**
 * With `num_layers` or `activation` in the config: the widths (`num_hiddens_1..L`, each
 * falling back to `num_hiddens`, then 256) and activation of a DeepMlpNet. Without them
 * (the default space): null, and the one-layer ReLU MlpNet with its lean step trains.
 * A config of one ReLU layer also takes the lean one-layer net.
 */
export function deepConfig(params: Params): { widths: number[]; activation: Activation } | null {
  if (params['num_layers'] === undefined && params['activation'] === undefined) return null;
  const L = numParam(params, 'num_layers', 1);
  if (!Number.isSafeInteger(L) || L < 1 || L > 8) throw new UsageError(`num_layers must be an integer in [1, 8], got ${L}`);
  const activation = params['activation'] ?? 'relu';
  if (!(ACTIVATIONS as readonly unknown[]).includes(activation)) {
    throw new UsageError(`activation must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(activation)}`);
  }
  const widths: number[] = [];
  for (let i = 1; i <= L; i++) {
    const w = numParam(params, `num_hiddens_${i}`, numParam(params, 'num_hiddens', 256));
    if (!Number.isSafeInteger(w) || w < 1) throw new UsageError(`num_hiddens_${i} must be a positive integer, got ${w}`);
    widths.push(w);
  }
  if (L === 1 && activation === 'relu') return null;
  return { widths, activation: activation as Activation };
}

/** MLP with one hidden layer: learning rate, width, dropout and batch size are tuned. */
export const mlpModel: ModelSpec = {
  name: 'mlp',
  description: 'MLP 784-H-10 with ReLU and dropout, minibatch SGD',
  defaultSpace: {
    learning_rate: { type: 'loguniform', low: 0.01, high: 1 },
    num_hiddens: { type: 'int', low: 32, high: 512, log: true },
    dropout: { type: 'uniform', low: 0, high: 0.5 },
    batch_size: { type: 'int', low: 32, high: 256 },
  },
  defaults: { epochs: 10, batchSize: 256 },
  layout: 'flat1',
  createTrainer(tf: Tf, data: FashionData, params: Params, opts: TrainerOptions): Trainer {
    const lr = learningRate(params);
    const B = batchSize(params, mlpModel.defaults.batchSize);
    const H = params['num_layers'] === 1 && params['num_hiddens_1'] !== undefined ? numParam(params, 'num_hiddens_1') : numParam(params, 'num_hiddens', 256);
    if (!Number.isSafeInteger(H) || H < 1) throw new UsageError(`num_hiddens must be a positive integer, got ${H}`);
    const p = numParam(params, 'dropout', 0);
    if (!(p >= 0 && p < 1)) throw new UsageError(`dropout must be in [0, 1), got ${p}`);
    const T = fashionTensors(tf, data, 'flat1', opts.trainSubset);
    const deep = deepConfig(params);
    if (deep) {
      // The conditional space's network (num_layers, a width per layer, activation).
      const net = new DeepMlpNet(tf, deep.widths, deep.activation, p, deriveSeed(opts.seed, 'mlp-init'));
      return new SgdTrainer(tf, T, net, B, lr, opts.seed, opts.step ?? 'lean', 5000);
    }
    const net = new MlpNet(tf, H, p, deriveSeed(opts.seed, 'mlp-init'));
    return new SgdTrainer(tf, T, net, B, lr, opts.seed, opts.step ?? 'lean', 5000);
  },
};
