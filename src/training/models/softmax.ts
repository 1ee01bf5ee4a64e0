import type * as tfTypes from '@tensorflow/tfjs';
import type { Params } from '../../space/distribution.js';
import { fashionTensors, PIXELS, type FashionData, type Tf } from '../data.js';
import { deriveSeed } from '../../random.js';
import type { ModelSpec, Trainer, TrainerOptions } from './model.js';
import type { Handle, NativeOps } from '../native-ops.js';
import { applyGrads, matMulT, batchSize, learningRate, SgdTrainer, torchUniform, type Net, type StepScalars } from './common.js';

/**
 * From this many rows on, the native step on libtensorflow's MatMul (without tfjs-hpo's
 * kernels) computes the weight gradient as (d^T x)^T: libtensorflow 1.15's MatMul with
 * transpose_a on the tall [B, 785] pixels is slow (about 290 us for x^T d at B = 256,
 * against 57 us for d^T x plus a 10 us Transpose); at B = 16 the extra op costs more than
 * it saves. tfjs-hpo's GEMM computes x^T d directly, with the same bits either way.
 */
const TRANSPOSED_GRAD_ROWS = 64;

/**
 * Softmax regression 784 -> 10. Inputs carry a constant 1 column (layout `flat1`), so the
 * bias is the last row of W [785, 10] and the whole model is one matrix.
 *
 * Lean step: one Gather for x (indices and one-hot y are uploaded from JS), then six ops:
 *   p = softmax(x W); d = (p - y) * lr/B; W <- W - x^T d
 * (dL/dlogits of the mean cross-entropy is (p - y)/B; the bias gradient is the sum of d,
 * which x^T d computes through the 1 column.) Storing x scaled by sqrt(lr/B) would drop
 * the multiply (W = sqrt(lr/B) V, V <- V - x'^T (p - y)) but needs a per-trial copy of the
 * training pixels (188 MB for 60k images) to save about 8 us; not done.
 */
export class SoftmaxNet implements Net {
  readonly W: tfTypes.Variable;
  readonly variables: readonly tfTypes.Variable[];

  constructor(private readonly tf: Tf, seed: number) {
    this.W = tf.tidy(() =>
      tf.variable(
        tf.concat([torchUniform(tf, [PIXELS, 10], PIXELS, deriveSeed(seed, 'W')), torchUniform(tf, [1, 10], PIXELS, deriveSeed(seed, 'b'))], 0),
        true,
      ),
    );
    this.variables = [this.W];
  }

  logits(x: tfTypes.Tensor): tfTypes.Tensor {
    return this.tf.matMul(x as tfTypes.Tensor2D, this.W as tfTypes.Tensor2D);
  }

  leanStep(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars): void {
    const tf = this.tf;
    const x2 = x as tfTypes.Tensor2D;
    const p = tf.softmax(tf.matMul(x2, this.W as tfTypes.Tensor2D));
    const d = tf.mul(tf.sub(p, y), s.lrOverB) as tfTypes.Tensor2D;
    this.W.assign(tf.sub(this.W, matMulT(tf, x2, d, true, false)));
  }

  nativeStep(ops: NativeOps, x: Handle, labels: Handle, s: StepScalars): void {
    softmaxNativeStep(ops, this.tf, this.W, x, labels, s.lrOverB, s.rows >= TRANSPOSED_GRAD_ROWS);
  }

  autogradStep(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars): void {
    const { grads } = this.tf.variableGrads(() => this.tf.losses.softmaxCrossEntropy(y, this.logits(x)) as tfTypes.Scalar, [this.W]);
    applyGrads(this.tf, this.variables, grads, s.lr);
  }

  dispose(): void {
    this.W.dispose();
  }
}

/**
 * The lean step on raw eager handles, for one net (W [785, 10], x [B, 785]) or a pack of
 * them (W [K, 785, 10], x [K, B, 785], lrOverB [K, 1, 1]): z = x W; d = xent'(z) lr/B;
 * W <- W - x^T d, the gradient computed as (d^T x)^T when `transposedGrad` and the
 * products are libtensorflow's (a single net only; see TRANSPOSED_GRAD_ROWS).
 */
export function softmaxNativeStep(ops: NativeOps, tf: Tf, variable: tfTypes.Variable, x: Handle, labels: Handle, lrOverB: tfTypes.Tensor, transposedGrad: boolean): void {
  const W = ops.id(variable);
  const z = ops.matMul(x, W);
  const g = ops.xentGrad(z, labels);
  ops.del(z);
  const d = ops.bin('Mul', g, ops.id(lrOverB));
  ops.del(g);
  if (transposedGrad && !ops.hpoGemm) {
    const gt = ops.matMul(d, x, true, false);
    const gw = ops.transpose(gt);
    ops.del(gt);
    ops.del(d);
    ops.setVariable(tf, variable, ops.subFree(W, gw));
    return;
  }
  // With tfjs-hpo's kernels: one HpoMatMulTNSub (the subtraction in the GEMM's store).
  const updated = ops.matMulSub(W, x, d, true, false);
  ops.del(d);
  ops.setVariable(tf, variable, updated);
}

/** d2l's softmax regression HPO example (chapter 19.1): tune the learning rate only. */
export const softmaxModel: ModelSpec = {
  name: 'softmax',
  description: 'softmax regression 784->10, minibatch SGD (d2l HPO chapter)',
  defaultSpace: { learning_rate: { type: 'loguniform', low: 0.01, high: 1 } },
  defaults: { epochs: 8, batchSize: 16 },
  layout: 'flat1',
  createTrainer(tf: Tf, data: FashionData, params: Params, opts: TrainerOptions): Trainer {
    const lr = learningRate(params);
    const B = batchSize(params, softmaxModel.defaults.batchSize);
    const T = fashionTensors(tf, data, 'flat1', opts.trainSubset);
    const net = new SoftmaxNet(tf, deriveSeed(opts.seed, 'softmax-init'));
    return new SgdTrainer(tf, T, net, B, lr, opts.seed, opts.step ?? 'lean', 5000);
  },
};
