import type * as tfTypes from '@tensorflow/tfjs';
import type { Params } from '../../space/distribution.js';
import type { Tf } from '../data.js';
import { deriveSeed } from '../../random.js';
import { batchSize } from '../models/common.js';
import { SoftmaxNet, softmaxModel, softmaxNativeStep } from '../models/softmax.js';
import { NO_ATTRS, type Handle, type NativeOps } from '../native-ops.js';
import { batchMatMul, encodeSlot, replaceVariable, slot, stackSlots, withSingleNet, type PackedModelSpec, type PackedNet, type PackMember, type PackScalars } from './packed-net.js';

type T3 = tfTypes.Tensor3D;

/**
 * K softmax regressions, W [K, 785, 10] (slot k is member k's W, as the single net holds it).
 * The step is the single model's lean step with batched matMuls:
 *   p = softmax(x W); d = (p - y) * lr_k/B; W <- W - x^T d
 * and on the tensorflow backend with tfjs-hpo's kernels one HpoSoftmaxSgdEpoch op per epoch
 * (fusedEpoch) when the training images are kept as bytes.
 */
export class PackedSoftmaxNet implements PackedNet {
  members: PackMember[] = [];
  /** W [K, 785, 10]. */
  private W: tfTypes.Variable | null = null;

  constructor(private readonly tf: Tf) {}

  regroup(keep: readonly number[], joins: readonly PackMember[]): void {
    const tf = this.tf;
    const old = this.W;
    const parts = tf.tidy((): tfTypes.Tensor[] => {
      const ts: tfTypes.Tensor[] = old ? keep.map((k) => slot(tf, old, k)) : [];
      for (const m of joins) {
        // The single-trial net's own init, so slot k starts where the unpacked trial does.
        withSingleNet(tf, new SoftmaxNet(tf, deriveSeed(m.seed, 'softmax-init')), m, (net) => ts.push(tf.clone(net.W)));
      }
      return ts.length ? [stackSlots(tf, ts)] : [];
    });
    this.members = [...keep.map((k) => this.members[k]!), ...joins];
    const [stacked] = parts;
    if (stacked === undefined) {
      old?.dispose();
      this.W = null;
    } else {
      this.W = replaceVariable(tf, old, stacked);
      stacked.dispose();
    }
  }

  saveSlot(k: number): Uint8Array {
    return encodeSlot(this.tf, () => [slot(this.tf, this.W!, k)]);
  }

  step(x: tfTypes.Tensor, y: T3, s: PackScalars): void {
    const tf = this.tf;
    const W = this.W as unknown as T3;
    const x3 = x as T3;
    const p = tf.softmax(batchMatMul(tf, x3, W, false, false));
    const d = tf.mul(tf.sub(p, y), s.lrOverB) as T3;
    this.W!.assign(tf.sub(W, batchMatMul(tf, x3, d, true, false)));
  }

  /** SoftmaxNet.nativeStep per slot: z = x W; d = xent'(z) lr_k/B; W -= x^T d. */
  nativeStep(ops: NativeOps, x: Handle, labels: Handle, s: PackScalars): void {
    softmaxNativeStep(ops, this.tf, this.W!, x, labels, s.lrOverB, false);
  }

  /** nativeStep for every minibatch of an epoch (gather, both products, gradient, update), in one HpoSoftmaxSgdEpoch op. */
  fusedEpoch(ops: NativeOps, source: Handle, idx: Handle, labels: Handle, full: PackScalars, tail: PackScalars, batch: number): void {
    const W = ops.id(this.W!);
    const inputs = [W, source, idx, labels, ops.id(full.lrOverB), ops.id(tail.lrOverB), ops.ints([batch], [])];
    ops.setVariable(this.tf, this.W!, ops.run('HpoSoftmaxSgdEpoch', NO_ATTRS, inputs));
  }

  logits(x: tfTypes.Tensor): T3 {
    const tf = this.tf;
    return batchMatMul(tf, tf.expandDims(x, 0) as T3, this.W as unknown as T3, false, false);
  }

  dispose(): void {
    this.W?.dispose();
    this.W = null;
    this.members = [];
  }
}

export const packedSoftmax: PackedModelSpec = {
  name: 'softmax',
  layout: 'flat1',
  evalChunk: 5000,
  shapeKey: () => '',
  batchSize: (params: Params) => batchSize(params, softmaxModel.defaults.batchSize),
  createNet: (tf: Tf) => new PackedSoftmaxNet(tf),
};
