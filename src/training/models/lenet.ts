import type * as tfTypes from '@tensorflow/tfjs';
import type { Params } from '../../space/distribution.js';
import { fashionTensors, type FashionData, type Tf } from '../data.js';
import { deriveSeed } from '../../random.js';
import type { ModelSpec, Trainer, TrainerOptions } from './model.js';
import { BackendError } from '../../errors.js';
import { applyGrads, batchSize, constScalar, learningRate, SgdTrainer, torchUniform, xavierUniform, type Net, type StepScalars } from './common.js';

type T4 = tfTypes.Tensor4D;
type T2 = tfTypes.Tensor2D;

/**
 * d2l's LeNet (chapter 7.6, used by the HPO chapter 19.2), NHWC:
 *   conv 6@5x5 pad 2, sigmoid, avgpool 2/2 -> conv 16@5x5, sigmoid, avgpool 2/2 ->
 *   dense 400->120 sigmoid -> 120->84 sigmoid -> 84->10.
 * Weights Xavier-uniform (d2l's init_cnn), biases PyTorch's default uniform.
 *
 * The lean step runs the backward pass by hand with the backend's own gradient kernels
 * (Conv2DBackpropFilter, Conv2DBackpropInput via conv2dTranspose, AvgPoolGrad) and the
 * sigmoid derivative s(1-s) from the saved activations: no tape, no closures, and the
 * forward uses fused conv/matMul + bias + sigmoid where the backend has them.
 */
export class LeNetNet implements Net {
  readonly K1: tfTypes.Variable; // [5,5,1,6]
  readonly c1: tfTypes.Variable; // [6]
  readonly K2: tfTypes.Variable; // [5,5,6,16]
  readonly c2: tfTypes.Variable; // [16]
  readonly W3: tfTypes.Variable; // [400,120]
  readonly b3: tfTypes.Variable;
  readonly W4: tfTypes.Variable; // [120,84]
  readonly b4: tfTypes.Variable;
  readonly W5: tfTypes.Variable; // [84,10]
  readonly b5: tfTypes.Variable;
  readonly variables: readonly tfTypes.Variable[];
  private readonly one: tfTypes.Scalar;

  constructor(private readonly tf: Tf, seed: number) {
    const s = (k: string): number => deriveSeed(seed, k);
    const vs = tf.tidy(() => [
      tf.variable(xavierUniform(tf, [5, 5, 1, 6], 25, 150, s('K1')), true),
      tf.variable(torchUniform(tf, [6], 25, s('c1')), true),
      tf.variable(xavierUniform(tf, [5, 5, 6, 16], 150, 400, s('K2')), true),
      tf.variable(torchUniform(tf, [16], 150, s('c2')), true),
      tf.variable(xavierUniform(tf, [400, 120], 400, 120, s('W3')), true),
      tf.variable(torchUniform(tf, [120], 400, s('b3')), true),
      tf.variable(xavierUniform(tf, [120, 84], 120, 84, s('W4')), true),
      tf.variable(torchUniform(tf, [84], 120, s('b4')), true),
      tf.variable(xavierUniform(tf, [84, 10], 84, 10, s('W5')), true),
      tf.variable(torchUniform(tf, [10], 84, s('b5')), true),
    ]);
    [this.K1, this.c1, this.K2, this.c2, this.W3, this.b3, this.W4, this.b4, this.W5, this.b5] = vs as [
      tfTypes.Variable, tfTypes.Variable, tfTypes.Variable, tfTypes.Variable, tfTypes.Variable,
      tfTypes.Variable, tfTypes.Variable, tfTypes.Variable, tfTypes.Variable, tfTypes.Variable,
    ];
    this.variables = vs;
    this.one = constScalar(tf, 1);
  }

  /** Forward pass keeping what the backward needs. fused: use fused kernels (lean path). */
  private forward(x: tfTypes.Tensor, fused: boolean) {
    const tf = this.tf;
    const conv = (inp: T4, K: tfTypes.Variable, b: tfTypes.Variable, pad: 'same' | 'valid'): T4 =>
      fused
        ? tf.fused.conv2d({ x: inp, filter: K as T4, strides: 1, pad, bias: b, activation: 'sigmoid' })
        : (tf.sigmoid(tf.add(tf.conv2d(inp, K as T4, 1, pad), b)) as T4);
    const dense = (inp: T2, W: tfTypes.Variable, b: tfTypes.Variable, act: boolean): T2 =>
      fused
        ? (tf.fused.matMul({ a: inp, b: W as T2, bias: b, activation: act ? 'sigmoid' : 'linear' }) as T2)
        : act
          ? (tf.sigmoid(tf.add(tf.matMul(inp, W as T2), b)) as T2)
          : (tf.add(tf.matMul(inp, W as T2), b) as T2);
    const s1 = conv(x as T4, this.K1, this.c1, 'same'); // [B,28,28,6]
    const p1 = tf.avgPool(s1, 2, 2, 'valid'); // [B,14,14,6]
    const s2 = conv(p1, this.K2, this.c2, 'valid'); // [B,10,10,16]
    const p2 = tf.avgPool(s2, 2, 2, 'valid'); // [B,5,5,16]
    const f = tf.reshape(p2, [p2.shape[0], 400]) as T2;
    const h3 = dense(f, this.W3, this.b3, true);
    const h4 = dense(h3, this.W4, this.b4, true);
    const z = dense(h4, this.W5, this.b5, false);
    return { s1, p1, s2, p2, f, h3, h4, z };
  }

  logits(x: tfTypes.Tensor): tfTypes.Tensor {
    return this.forward(x, true).z;
  }

  leanStep(x: tfTypes.Tensor, y: T2, s: StepScalars): void {
    const tf = this.tf;
    const e = tf.engine();
    const { s1, p1, s2, p2, f, h3, h4, z } = this.forward(x, true);
    const one = this.one;
    const sig = <T extends tfTypes.Tensor>(dy: T, act: T): T => tf.mul(dy, tf.mul(act, tf.sub(one, act))) as T;
    const d5 = tf.mul(tf.sub(tf.softmax(z), y), s.lrOverB) as T2; // already times lr
    const da4 = sig(tf.matMul(d5, this.W5 as T2, false, true), h4);
    const da3 = sig(tf.matMul(da4, this.W4 as T2, false, true), h3);
    const dp2 = tf.reshape(tf.matMul(da3, this.W3 as T2, false, true), p2.shape) as T4;
    const ds2 = e.runKernel('AvgPoolGrad', { dy: dp2, input: s2 }, { filterSize: 2, strides: 2, pad: 'valid' }) as T4;
    const da2 = sig(ds2, s2);
    const dp1 = tf.conv2dTranspose(da2, this.K2 as T4, p1.shape, 1, 'valid');
    const ds1 = e.runKernel('AvgPoolGrad', { dy: dp1, input: s1 }, { filterSize: 2, strides: 2, pad: 'valid' }) as T4;
    const da1 = sig(ds1, s1);
    const filterGrad = (inp: T4, dy: T4, shape: number[], pad: 'same' | 'valid'): T4 =>
      e.runKernel('Conv2DBackpropFilter', { x: inp, dy }, { strides: [1, 1], pad, dataFormat: 'NHWC', filterShape: shape }) as T4;
    const upd = (v: tfTypes.Variable, g: tfTypes.Tensor): void => v.assign(tf.sub(v, g));
    upd(this.W5, tf.matMul(h4, d5, true, false));
    upd(this.b5, tf.sum(d5, 0));
    upd(this.W4, tf.matMul(h3, da4, true, false));
    upd(this.b4, tf.sum(da4, 0));
    upd(this.W3, tf.matMul(f, da3, true, false));
    upd(this.b3, tf.sum(da3, 0));
    upd(this.K2, filterGrad(p1, da2, [5, 5, 6, 16], 'valid'));
    upd(this.c2, tf.sum(da2, [0, 1, 2]));
    upd(this.K1, filterGrad(x as T4, da1, [5, 5, 1, 6], 'same'));
    upd(this.c1, tf.sum(da1, [0, 1, 2]));
  }

  autogradStep(x: tfTypes.Tensor, y: T2, s: StepScalars): void {
    const tf = this.tf;
    const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, this.forward(x, false).z) as tfTypes.Scalar, [...this.variables]);
    applyGrads(tf, this.variables, grads, s.lr);
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    this.one.dispose();
  }
}

/** d2l's HPO chapter 19.2 example: LeNet, tune learning rate and batch size, 10 epochs. */
export const lenetModel: ModelSpec = {
  name: 'lenet',
  description: "d2l's LeNet (sigmoid, average pooling), minibatch SGD",
  defaultSpace: {
    learning_rate: { type: 'loguniform', low: 0.01, high: 1 },
    batch_size: { type: 'int', low: 32, high: 256 },
  },
  defaults: { epochs: 10, batchSize: 128 },
  layout: 'image',
  createTrainer(tf: Tf, data: FashionData, params: Params, opts: TrainerOptions): Trainer {
    const lr = learningRate(params);
    const B = batchSize(params, lenetModel.defaults.batchSize);
    const backend = tf.getBackend();
    for (const k of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'AvgPoolGrad']) {
      if (tf.getKernel(k, backend) === undefined) {
        throw new BackendError(`lenet cannot train on the ${backend} backend: it has no ${k} kernel (use tensorflow or cpu)`);
      }
    }
    const T = fashionTensors(tf, data, 'image', opts.trainSubset);
    const net = new LeNetNet(tf, deriveSeed(opts.seed, 'lenet-init'));
    return new SgdTrainer(tf, T, net, B, lr, opts.seed, opts.step ?? 'lean', 2000);
  },
};
