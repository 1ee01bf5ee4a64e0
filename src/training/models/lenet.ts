import type * as tfTypes from '@tensorflow/tfjs';
import type { Params } from '../../space/distribution.js';
import { fashionTensors, type FashionData, type Tf } from '../data.js';
import { deriveSeed } from '../../random.js';
import type { ModelSpec, Trainer, TrainerOptions } from './model.js';
import { BackendError } from '../../errors.js';
import { NO_ATTRS, nativeOps, type Handle, type NativeOps } from '../native-ops.js';
import { applyGrads, batchSize, constScalar, learningRate, SgdTrainer, torchUniform, xavierUniform, type Net, type StepScalars } from './common.js';

type T4 = tfTypes.Tensor4D;
type T2 = tfTypes.Tensor2D;

/** Constant matrices of a 2x2 average pool (see LeNetNet.nativeStep). */
interface PoolMatrices {
  /** [w, w/2]: 0.5 where column = floor(row / 2). */
  readonly alongW: Handle;
  /** [w, w/2]: two stacked 0.5 * identity(w/2). */
  readonly alongH: Handle;
  /** [w/2, w]: alongW transposed. */
  readonly backW: Handle;
  /** [w, 2w]: [0.5 * identity(w), 0.5 * identity(w)]. */
  readonly backH: Handle;
}

const FIVE = [0, 1, 2, 3, 4];

/**
 * 2x2 average pooling of n maps of side w, stored as rows of w values, by two MatMuls:
 * along W by [w, w/2], then along H by [w, w/2] on row pairs. Eigen's MatMul does this
 * about twice as fast as a Sum over 2x2 blocks or AvgPool on these shapes.
 */
function pool(ops: NativeOps, k: (h: Handle) => Handle, a: Handle, n: number, w: number, m: PoolMatrices): Handle {
  // With tfjs-hpo's kernels: one HpoAvgPool2 op ([n, w/2, w/2]) instead of two MatMuls.
  if (ops.hpoGemm) return k(ops.run('HpoAvgPool2', NO_ATTRS, [a, ops.ints([n, w, w])]));
  return k(ops.matMul(k(ops.reshape(k(ops.matMul(k(ops.reshape(a, [n * w, w])), m.alongW)), [(n * w) / 2, w])), m.alongH));
}

/** The gradient of {@link pool}: spread along W by [h, 2h], then copy each row twice by [2h, 4h]. */
function unpool(ops: NativeOps, k: (h: Handle) => Handle, dy: Handle, n: number, h: number, m: PoolMatrices, shape: number[]): Handle {
  if (ops.hpoGemm) return k(ops.reshape(k(ops.run('HpoAvgPool2Grad', NO_ATTRS, [dy, ops.ints([n, 2 * h, 2 * h])])), shape));
  return k(ops.reshape(k(ops.matMul(k(ops.matMul(k(ops.reshape(dy, [n * h, h])), m.backW)), m.backH)), shape));
}

/** The four pooling matrices for maps of side w, as kept tensors. */
function poolTensors(tf: Tf, w: number): tfTypes.Tensor[] {
  const h = w / 2;
  const alongW = new Float32Array(w * h);
  const alongH = new Float32Array(w * h);
  const backW = new Float32Array(h * w);
  const backH = new Float32Array(w * 2 * w);
  for (let x = 0; x < w; x++) {
    alongW[x * h + (x >> 1)] = 0.5;
    backW[(x >> 1) * w + x] = 0.5;
    alongH[x * h + (x % h)] = 0.5;
    backH[x * 2 * w + x] = 0.5;
    backH[x * 2 * w + w + x] = 0.5;
  }
  return [tf.tensor2d(alongW, [w, h]), tf.tensor2d(alongH, [w, h]), tf.tensor2d(backW, [h, w]), tf.tensor2d(backH, [w, 2 * w])].map((t) => tf.keep(t));
}

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
  private readonly pools: tfTypes.Tensor[] = [];

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

  /** Inference logits through the tfjs API (conv kernels), whatever the backend. */
  kernelLogits(x: tfTypes.Tensor): tfTypes.Tensor {
    return this.forward(x, true).z;
  }

  logits(x: tfTypes.Tensor): tfTypes.Tensor {
    const ops = nativeOps(this.tf);
    if (ops === null) return this.forward(x, true).z;
    // The same im2col forward as the native step: conv1 through Conv2D is the slowest op
    // of an evaluation by far.
    const tmp: Handle[] = [];
    try {
      const z = this.nativeForward(ops, ops.id(x), x.shape[0], (h) => (tmp.push(h), h)).z;
      tmp.splice(tmp.indexOf(z), 1);
      return ops.toTensor(this.tf, z, [x.shape[0], 10]);
    } finally {
      ops.delAll(tmp);
    }
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

  /**
   * The lean step as TF eager ops, with both convolutions as im2col + MatMul. libtensorflow
   * 1.15 here was built without AVX2/FMA and its Conv2D kernels are slow for these shapes
   * (at batch 64: Conv2D 1->6 8.4 ms, Conv2DBackpropFilter 5.8 ms for the first layer,
   * 1.2 + 2.0 + 1.1 ms forward, filter and input gradient for the second), while its
   * MatMul is not. Activations live channel-major ([C, B, H, W]) so every im2col step is
   * a contiguous Slice + Pack, pooling is a Sum over 2x2 blocks, and the weight gradients
   * are one MatMul each against the saved patches. The input gradient of the second
   * convolution is col2im: two rounds of Unpack, Pad and AddN.
   */
  nativeStep(ops: NativeOps, x: Handle, labels: Handle, s: StepScalars): void {
    const B = s.rows;
    const tmp: Handle[] = [];
    const k = (h: Handle): Handle => (tmp.push(h), h);
    const id = (v: tfTypes.Variable): Handle => ops.id(v);
    const sigGrad = (y: Handle, dy: Handle): Handle => k(ops.bin('SigmoidGrad', y, dy));
    try {
      const { P1, s1, P2, s2, f, h3, h4, z } = this.nativeForward(ops, x, B, k);
      const c = this.poolMatrices(ops);
      // Backward. d5 already carries lr/B, so every gradient below is an update.
      const d5 = k(ops.bin('Mul', k(ops.xentGrad(z, labels)), ops.id(s.lrOverB)));
      const da4 = sigGrad(h4, k(ops.matMul(d5, id(this.W5), false, true)));
      const da3 = sigGrad(h3, k(ops.matMul(da4, id(this.W4), false, true)));
      const dp2 = k(ops.permute(k(ops.reshape(k(ops.matMul(da3, id(this.W3), false, true)), [B, 5, 5, 16])), [3, 0, 1, 2])); // [16,B,5,5]
      const da2 = sigGrad(s2, unpool(ops, k, dp2, 16 * B, 5, c.pool10, [16, B * 100]));
      let dp1: Handle; // [6,B,14,14]
      if (ops.hpoGemm) {
        // conv2's input gradient as col2im of K2 da2: the patches' gradient summed back.
        const dP2 = k(ops.matMul(k(ops.reshape(id(this.K2), [150, 16])), da2)); // [150, B*100]
        dp1 = k(ops.run('HpoCol2im', NO_ATTRS, [dP2, ops.ints([5, 0, 6, B, 14, 14])]));
      } else {
        // conv2's input gradient by TF's kernel, in NHWC: col2im through Pad/AddN measured slower
        const da2n = k(ops.permute(k(ops.reshape(da2, [16, B, 10, 10])), [1, 2, 3, 0]));
        dp1 = k(ops.permute(k(ops.conv2dBackpropInput(ops.ints([B, 14, 14, 6]), id(this.K2), da2n, 'VALID')), [3, 0, 1, 2]));
      }
      const da1 = sigGrad(s1, unpool(ops, k, dp1, 6 * B, 14, c.pool28, [6, B * 784]));
      const upd = (v: tfTypes.Variable, g: Handle): void => ops.setVariable(this.tf, v, ops.subFree(id(v), g));
      upd(this.W5, ops.matMul(h4, d5, true, false));
      upd(this.b5, ops.sum(d5, [0]));
      upd(this.W4, ops.matMul(h3, da4, true, false));
      upd(this.b4, ops.sum(da4, [0]));
      upd(this.W3, ops.matMul(f, da3, true, false));
      upd(this.b3, ops.sum(da3, [0]));
      upd(this.K2, ops.reshape(k(ops.matMul(P2, da2, false, true)), [5, 5, 6, 16]));
      upd(this.c2, ops.sum(da2, [1]));
      upd(this.K1, ops.reshape(k(ops.matMul(P1, da1, false, true)), [5, 5, 1, 6]));
      upd(this.c1, ops.sum(da1, [1]));
    } finally {
      ops.delAll(tmp);
    }
  }

  /**
   * The forward pass of {@link nativeStep} on B images [B,28,28,1]; every handle it makes
   * goes through `k` (the caller frees them).
   */
  private nativeForward(ops: NativeOps, x: Handle, B: number, k: (h: Handle) => Handle) {
    const id = (v: tfTypes.Variable): Handle => ops.id(v);
    const sig = (h: Handle): Handle => k(ops.run('Sigmoid', ops.tFloat, [h]));
    const c = this.poolMatrices(ops);
    // conv1 (1 -> 6, 5x5, pad 2): patches [25, B*784], rows (di, dj)
    // Each shift is a rank-2 Slice (rows of contiguous floats), which libtensorflow copies
    // faster than the same window cut from a rank-4 or rank-5 view.
    // With tfjs-hpo's kernels, HpoIm2col builds the same patches in one op.
    const im2col = ops.hpoGemm;
    let P1: Handle;
    if (im2col) {
      P1 = k(ops.run('HpoIm2col', NO_ATTRS, [k(ops.reshape(x, [1, B, 28, 28])), ops.ints([5, 2])]));
    } else {
      const xp = k(ops.reshape(k(ops.pad(k(ops.reshape(x, [B, 28, 28])), [0, 0, 2, 2, 2, 2])), [B * 32, 32])); // rows of 32
      const byDj = k(ops.reshape(k(ops.pack(FIVE.map((dj) => k(ops.slice(xp, [0, dj], [B * 32, 28]))), 0)), [5 * B, 32 * 28])); // [5,B,32,28]
      P1 = k(ops.reshape(k(ops.pack(FIVE.map((di) => k(ops.slice(byDj, [0, di * 28], [5 * B, 784]))), 0)), [25, B * 784]));
    }
    const K1m = k(ops.reshape(id(this.K1), [25, 6]));
    const s1 = sig(k(ops.bin('Add', k(ops.matMul(K1m, P1, true, false)), k(ops.reshape(id(this.c1), [6, 1]))))); // [6, B*784]
    const p1 = pool(ops, k, s1, 6 * B, 28, c.pool28); // [6*B*14, 14]
    // conv2 (6 -> 16, 5x5, valid): patches [150, B*100], rows (di, dj, c)
    let P2: Handle;
    if (im2col) {
      P2 = k(ops.run('HpoIm2col', NO_ATTRS, [k(ops.reshape(p1, [6, B, 14, 14])), ops.ints([5, 0])]));
    } else {
      const byDj2 = k(ops.reshape(k(ops.pack(FIVE.map((dj) => k(ops.slice(p1, [0, dj], [6 * B * 14, 10]))), 0)), [5 * 6 * B, 14 * 10])); // [5,6,B,14,10]
      P2 = k(ops.reshape(k(ops.pack(FIVE.map((di) => k(ops.slice(byDj2, [0, di * 10], [5 * 6 * B, 100]))), 0)), [150, B * 100]));
    }
    const K2m = k(ops.reshape(id(this.K2), [150, 16]));
    const s2 = sig(k(ops.bin('Add', k(ops.matMul(K2m, P2, true, false)), k(ops.reshape(id(this.c2), [16, 1]))))); // [16, B*100]
    const p2 = pool(ops, k, s2, 16 * B, 10, c.pool10); // [16*B*5, 5]
    const f = k(ops.reshape(k(ops.permute(k(ops.reshape(p2, [16, B, 5, 5])), [1, 2, 3, 0])), [B, 400])); // (h, w, c) order, as NHWC
    const dense = (inp: Handle, W: tfTypes.Variable, b: tfTypes.Variable): Handle => k(ops.bin('Add', k(ops.matMul(inp, id(W))), id(b)));
    const h3 = sig(dense(f, this.W3, this.b3));
    const h4 = sig(dense(h3, this.W4, this.b4));
    const z = dense(h4, this.W5, this.b5);
    return { P1, s1, P2, s2, f, h3, h4, z };
  }

  /** The pooling matrices of both layers, made on first use. */
  private poolMatrices(ops: NativeOps): { pool28: PoolMatrices; pool10: PoolMatrices } {
    if (this.pools.length === 0) for (const w of [28, 10]) this.pools.push(...poolTensors(this.tf, w));
    const m = this.pools.map((t) => ops.id(t));
    const at = (i: number): PoolMatrices => ({ alongW: m[i]!, alongH: m[i + 1]!, backW: m[i + 2]!, backH: m[i + 3]! });
    return { pool28: at(0), pool10: at(4) };
  }

  autogradStep(x: tfTypes.Tensor, y: T2, s: StepScalars): void {
    const tf = this.tf;
    const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, this.forward(x, false).z) as tfTypes.Scalar, [...this.variables]);
    applyGrads(tf, this.variables, grads, s.lr);
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    this.one.dispose();
    for (const t of this.pools) t.dispose();
    this.pools.length = 0;
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
    // Native evaluation keeps im2col patches (25 floats per pixel): chunks of 256 images
    // (20 MB of patches) evaluated faster than 500 or 2000 here and kept the RSS lowest.
    return new SgdTrainer(tf, T, net, B, lr, opts.seed, opts.step ?? 'lean', nativeOps(tf) ? 256 : 2000);
  },
};
