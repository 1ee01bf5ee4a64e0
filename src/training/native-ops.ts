/**
 * Direct TensorFlow eager ops for the training steps on the `tensorflow` backend.
 *
 * On tfjs-node a small op costs about 8 us through the tfjs API, of which the libtensorflow
 * call (TFE_Execute plus one N-API crossing) is about 5 us: the rest is tfjs's engine
 * (kernel registry, tidy scopes, tensor bookkeeping) and a second N-API call per disposal.
 * A lean step of softmax regression is a handful of small ops, so that overhead is most of
 * its time. This module calls tfjs-node's binding (`executeOp`, `createTensor`,
 * `deleteTensor`) with plain integer handles instead, and lets a step use TF kernels tfjs
 * never exposes (SparseSoftmaxCrossEntropyWithLogits returns the loss gradient, ReluGrad,
 * SigmoidGrad). Only the steps use it; inference and the other backends stay on the tfjs
 * API.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Tf } from './data.js';
import { BackendError } from '../errors.js';
import { hpoKernels, matMulOpName } from './hpo-kernels.js';

/** The attribute list of ops that take none (tfjs-hpo's own ops). */
export const NO_ATTRS: readonly OpAttr[] = [];

/** One op attribute in the binding's format. */
export interface OpAttr {
  readonly name: string;
  readonly type: number;
  readonly value: unknown;
}

interface OutputInfo {
  id: number;
}

interface Binding {
  TF_FLOAT: number;
  TF_INT32: number;
  TF_ATTR_TYPE: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_INT: number;
  TF_ATTR_STRING: number;
  executeOp(name: string, attrs: readonly OpAttr[], inputs: readonly number[], nOutputs: number): OutputInfo[];
  createTensor(shape: readonly number[], dtype: number, values: Float32Array | Int32Array): number;
  deleteTensor(id: number): void;
}

interface TensorData {
  id: number;
  values: unknown;
  refCount: number;
}

interface NodeBackend {
  binding: Binding;
  tensorMap: { get(dataId: object): TensorData | undefined };
  getInputTensorIds(tensors: tfTypes.Tensor[]): number[];
}

/** Integer handle of a TFE tensor held by the binding. Free it with {@link NativeOps.del}. */
export type Handle = number;

/**
 * Raw eager execution on tfjs-node. Handles returned by `run`, `run2` and `upload` belong
 * to the caller; handles from `id` belong to the tfjs tensor.
 */
export class NativeOps {
  private readonly b: Binding;
  /** The float32 `T` attribute most ops take. */
  readonly tFloat: readonly OpAttr[];
  private readonly matMulAttrs: (readonly OpAttr[])[];
  private readonly xentAttrs: readonly OpAttr[];
  private readonly permAttrs: readonly OpAttr[];
  private readonly sumAttrs: readonly OpAttr[];
  private readonly consts = new Map<string, Handle>();
  private readonly attrCache = new Map<string, readonly OpAttr[]>();
  /** Whether matMul runs tfjs-hpo's GEMM (HpoMatMul ops) rather than TF's MatMul. */
  readonly hpoGemm = hpoKernels() !== undefined;

  constructor(private readonly backend: NodeBackend) {
    this.b = backend.binding;
    this.tFloat = [this.typeAttr('T', 'float32')];
    this.matMulAttrs = [0, 1, 2, 3].map((k) => [this.tFloat[0]!, this.boolAttr('transpose_a', (k & 1) !== 0), this.boolAttr('transpose_b', (k & 2) !== 0)]);
    this.xentAttrs = [this.tFloat[0]!, this.typeAttr('Tlabels', 'int32')];
    this.permAttrs = [this.tFloat[0]!, this.typeAttr('Tperm', 'int32')];
    this.sumAttrs = [this.tFloat[0]!, this.boolAttr('keep_dims', false), this.typeAttr('Tidx', 'int32')];
  }

  /**
   * A constant int32 tensor (shapes, axes, permutations), created once and kept for the
   * life of the backend: a handful of tiny tensors shared by every step.
   */
  ints(values: readonly number[], shape: readonly number[] = [values.length]): Handle {
    const key = `${shape.join('x')}:${values.join(',')}`;
    let h = this.consts.get(key);
    if (h === undefined) this.consts.set(key, (h = this.upload(shape, Int32Array.from(values))));
    return h;
  }

  /**
   * A constant float32 tensor of ones (e.g. [1, rows]: a row of ones whose product with
   * d [rows, n] sums d's rows through the same GEMM as every other product), kept like ints().
   */
  ones(shape: readonly number[]): Handle {
    const key = `ones:${shape.join('x')}`;
    let h = this.consts.get(key);
    if (h === undefined) this.consts.set(key, (h = this.upload(shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1))));
    return h;
  }

  /** Sum over the rows of d [..., rows, n] as ones [..., 1, rows] · d, shaped [..., 1, n]. */
  sumRows(d: Handle, rows: number, batched: boolean): Handle {
    return this.matMul(this.ones(batched ? [1, 1, rows] : [1, rows]), d);
  }

  typeAttr(name: string, dtype: 'float32' | 'int32'): OpAttr {
    return { name, type: this.b.TF_ATTR_TYPE, value: dtype === 'float32' ? this.b.TF_FLOAT : this.b.TF_INT32 };
  }

  boolAttr(name: string, value: boolean): OpAttr {
    return { name, type: this.b.TF_ATTR_BOOL, value };
  }

  intsAttr(name: string, value: readonly number[]): OpAttr {
    return { name, type: this.b.TF_ATTR_INT, value };
  }

  stringAttr(name: string, value: string): OpAttr {
    return { name, type: this.b.TF_ATTR_STRING, value };
  }

  /** The handle behind a tfjs tensor (uploads its values first if they are still in JS). */
  id(t: tfTypes.Tensor): Handle {
    return this.backend.getInputTensorIds([t])[0]!;
  }

  /** Run an op with one output. */
  run(op: string, attrs: readonly OpAttr[], inputs: readonly Handle[]): Handle {
    return this.b.executeOp(op, attrs, inputs, 1)[0]!.id;
  }

  /** Run an op with two outputs. */
  run2(op: string, attrs: readonly OpAttr[], inputs: readonly Handle[]): [Handle, Handle] {
    const o = this.b.executeOp(op, attrs, inputs, 2);
    return [o[0]!.id, o[1]!.id];
  }

  /**
   * a·b with optional transposes (float32): tfjs-hpo's HpoMatMul when its kernels are
   * loaded (the same GEMM the tfjs API's matMul then uses, see hpo-kernels.ts), else TF's.
   */
  matMul(a: Handle, b: Handle, transposeA = false, transposeB = false): Handle {
    if (this.hpoGemm) return this.run(matMulOpName(transposeA, transposeB), NO_ATTRS, [a, b]);
    return this.run('MatMul', this.matMulAttrs[(transposeA ? 1 : 0) | (transposeB ? 2 : 0)]!, [a, b]);
  }

  /**
   * e - op(a)·op(b) (an SGD update W - grad): one HpoMatMul..Sub op with tfjs-hpo's kernels
   * (the subtraction in the GEMM's store, the bits of the product then TF's Sub), else the
   * product and Sub. Frees nothing.
   */
  matMulSub(e: Handle, a: Handle, b: Handle, transposeA = false, transposeB = false): Handle {
    if (this.hpoGemm) return this.run(`${matMulOpName(transposeA, transposeB)}Sub`, NO_ATTRS, [a, b, e]);
    return this.subFree(e, this.matMul(a, b, transposeA, transposeB));
  }

  /**
   * relu(a·b), times `mask` elementwise when given (dropout): HpoMatMulNNRelu(Mask) with
   * tfjs-hpo's kernels (relu as v > 0 ? v : 0 and the multiply in the GEMM's store), else
   * MatMul, Relu and Mul.
   */
  matMulRelu(a: Handle, b: Handle, mask: Handle | null): Handle {
    if (this.hpoGemm) return mask === null ? this.run('HpoMatMulNNRelu', NO_ATTRS, [a, b]) : this.run('HpoMatMulNNReluMask', NO_ATTRS, [a, b, mask]);
    const z = this.matMul(a, b);
    const h = this.run('Relu', this.tFloat, [z]);
    this.del(z);
    if (mask === null) return h;
    const hd = this.bin('Mul', h, mask);
    this.del(h);
    return hd;
  }

  /**
   * (a·b^T) * (features > 0), TF's ReluGrad of the product: HpoMatMulNTReluGrad with
   * tfjs-hpo's kernels, else MatMul and ReluGrad.
   */
  matMulReluGrad(a: Handle, b: Handle, features: Handle): Handle {
    if (this.hpoGemm) return this.run('HpoMatMulNTReluGrad', NO_ATTRS, [a, b, features]);
    const t = this.matMul(a, b, false, true);
    const g = this.bin('ReluGrad', t, features);
    this.del(t);
    return g;
  }

  /**
   * d(sum of per-row losses)/dlogits = softmax(logits) - onehot(labels), [B, C]:
   * SparseSoftmaxCrossEntropyWithLogits (the per-row losses freed), or HpoXentGrad.
   */
  xentGrad(logits: Handle, labels: Handle): Handle {
    // tfjs-hpo's op when loaded: the same bits for a row wherever it sits (packed batches),
    // and any leading shape ([K, B, C] with labels [K * B]); TF's op wants [B, C].
    if (this.hpoGemm) return this.run('HpoXentGrad', NO_ATTRS, [logits, labels]);
    const [loss, grad] = this.run2('SparseSoftmaxCrossEntropyWithLogits', this.xentAttrs, [logits, labels]);
    this.b.deleteTensor(loss);
    return grad;
  }

  /** Transpose of a matrix. */
  transpose(a: Handle): Handle {
    return this.run('Transpose', this.permAttrs, [a, this.ints([1, 0])]);
  }

  /** Sum over the given axes. */
  sum(a: Handle, axes: readonly number[]): Handle {
    return this.run('Sum', this.sumAttrs, [a, this.ints(axes)]);
  }

  /** Reshape (no copy in TF). */
  reshape(a: Handle, shape: readonly number[]): Handle {
    return this.run('Reshape', this.attrs('Reshape', () => [this.tFloat[0]!, this.typeAttr('Tshape', 'int32')]), [a, this.ints(shape)]);
  }

  /** Axes permutation. */
  permute(a: Handle, perm: readonly number[]): Handle {
    return this.run('Transpose', this.permAttrs, [a, this.ints(perm)]);
  }

  slice(a: Handle, begin: readonly number[], size: readonly number[]): Handle {
    return this.run('Slice', this.attrs('Slice', () => [this.tFloat[0]!, this.typeAttr('Index', 'int32')]), [a, this.ints(begin), this.ints(size)]);
  }

  /** Stack equal-shaped tensors along a new axis. */
  pack(parts: readonly Handle[], axis: number): Handle {
    return this.run('Pack', this.attrs(`Pack${parts.length},${axis}`, () => [this.tFloat[0]!, this.intAttr('N', parts.length), this.intAttr('axis', axis)]), parts);
  }

  /** Split along an axis into its slices (the axis removed). */
  unpack(a: Handle, num: number, axis: number): Handle[] {
    const o = this.b.executeOp('Unpack', this.attrs(`Unpack${num},${axis}`, () => [this.tFloat[0]!, this.intAttr('num', num), this.intAttr('axis', axis)]), [a], num);
    return o.map((t) => t.id);
  }

  /** Zero padding; `paddings` is [before, after] per axis, flattened. */
  pad(a: Handle, paddings: readonly number[]): Handle {
    return this.run('Pad', this.attrs('Pad', () => [this.tFloat[0]!, this.typeAttr('Tpaddings', 'int32')]), [a, this.ints(paddings, [paddings.length / 2, 2])]);
  }

  addN(parts: readonly Handle[]): Handle {
    return this.run('AddN', this.attrs(`AddN${parts.length}`, () => [this.tFloat[0]!, this.intAttr('N', parts.length)]), parts);
  }

  /** Gradient of a 2x2, stride 2, VALID average pool (NHWC); `shape` is the pool input's shape. */
  avgPoolGrad(shape: Handle, dy: Handle): Handle {
    return this.run('AvgPoolGrad', this.attrs('AvgPoolGrad', () => [this.tFloat[0]!, this.intsAttr('ksize', [1, 2, 2, 1]), this.intsAttr('strides', [1, 2, 2, 1]), this.stringAttr('padding', 'VALID'), this.stringAttr('data_format', 'NHWC')]), [shape, dy]);
  }

  /** Gradient of a stride-1 NHWC Conv2D with respect to its input of shape `shape`. */
  conv2dBackpropInput(shape: Handle, filter: Handle, dy: Handle, padding: 'SAME' | 'VALID'): Handle {
    const attrs = this.attrs(`Conv2DBackpropInput${padding}`, () => [
      this.tFloat[0]!,
      this.intsAttr('strides', [1, 1, 1, 1]),
      this.boolAttr('use_cudnn_on_gpu', true),
      this.stringAttr('padding', padding),
      this.stringAttr('data_format', 'NHWC'),
      this.intsAttr('dilations', [1, 1, 1, 1]),
    ]);
    return this.run('Conv2DBackpropInput', attrs, [shape, filter, dy]);
  }

  /** Free every handle in the list. */
  delAll(hs: readonly Handle[]): void {
    for (const h of hs) this.b.deleteTensor(h);
  }

  private attrs(key: string, make: () => OpAttr[]): readonly OpAttr[] {
    let a = this.attrCache.get(key);
    if (!a) this.attrCache.set(key, (a = make()));
    return a;
  }

  intAttr(name: string, value: number): OpAttr {
    return { name, type: this.b.TF_ATTR_INT, value };
  }

  /** Elementwise binary float op (Add, Sub, Mul, ReluGrad, SigmoidGrad, BiasAdd...). */
  bin(op: string, a: Handle, b: Handle): Handle {
    return this.run(op, this.tFloat, [a, b]);
  }

  /** a - b, then frees a and b. */
  subFree(a: Handle, b: Handle): Handle {
    const out = this.run('Sub', this.tFloat, [a, b]);
    this.b.deleteTensor(b);
    return out;
  }

  upload(shape: readonly number[], values: Float32Array | Int32Array): Handle {
    return this.b.createTensor(shape, values instanceof Float32Array ? this.b.TF_FLOAT : this.b.TF_INT32, values);
  }

  del(h: Handle): void {
    this.b.deleteTensor(h);
  }

  /**
   * Make `v` hold the eager tensor `h` (same shape and dtype), taking ownership of `h` and
   * freeing the variable's previous tensor: an SGD update without a tfjs tensor per step.
   * Falls back to `Variable.assign` when another tfjs tensor shares the variable's data.
   */
  setVariable(tf: Tf, v: tfTypes.Variable, h: Handle): void {
    this.id(v); // flush pending JS values so the entry holds a handle
    const info = this.backend.tensorMap.get(v.dataId);
    if (info === undefined) throw new BackendError(`variable ${v.name} has no data on the tensorflow backend`);
    if (info.refCount === 1) {
      const old = info.id;
      info.id = h;
      info.values = null;
      this.b.deleteTensor(old);
      return;
    }
    const t = this.toTensor(tf, h, v.shape);
    v.assign(t);
    t.dispose();
  }

  /** Wrap a float32 handle as a tfjs tensor (tracked by the current tidy scope), taking ownership. */
  toTensor(tf: Tf, h: Handle, shape: number[]): tfTypes.Tensor {
    return tf.engine().makeTensorFromTensorInfo({ dataId: this.adopt(h, shape, 'float32'), shape, dtype: 'float32' });
  }

  private adopt(h: Handle, shape: number[], dtype: tfTypes.DataType): object {
    const dataId = {};
    (this.backend.tensorMap as unknown as { set(k: object, v: object): void }).set(dataId, {
      shape,
      dtype: dtype === 'int32' ? this.b.TF_INT32 : this.b.TF_FLOAT,
      id: h,
      values: null,
      refCount: 1,
    });
    return dataId;
  }
}

const cache = new WeakMap<object, NativeOps>();

/**
 * The raw op runner of the active backend, or null when the backend is not tfjs-node's
 * `tensorflow` (the cpu and wasm backends use the tfjs API).
 */
export function nativeOps(tf: Tf): NativeOps | null {
  if (tf.getBackend() !== 'tensorflow') return null;
  const backend = tf.backend() as unknown as Partial<NodeBackend>;
  if (typeof backend.binding?.executeOp !== 'function' || typeof backend.getInputTensorIds !== 'function' || backend.tensorMap === undefined) return null;
  let ops = cache.get(backend);
  if (!ops) cache.set(backend, (ops = new NativeOps(backend as NodeBackend)));
  return ops;
}
