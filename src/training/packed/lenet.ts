import type * as tfTypes from '@tensorflow/tfjs';
import type { Params } from '../../space/distribution.js';
import type { Tf } from '../data.js';
import { deriveSeed } from '../../random.js';
import { batchSize } from '../models/common.js';
import { LeNetNet, lenetModel } from '../models/lenet.js';
import { batchMatMul, encodeSlot, replaceVariable, slot, stackSlots, withSingleNet, type PackedModelSpec, type PackedNet, type PackMember, type PackScalars } from './packed-net.js';

type T4 = tfTypes.Tensor4D;
type T3 = tfTypes.Tensor3D;

/** Variable order of LeNetNet.variables; the dense biases are stored [K, 1, n] here. */
const NAMES = ['K1', 'c1', 'K2', 'c2', 'W3', 'b3', 'W4', 'b4', 'W5', 'b5'] as const;
const DENSE_BIAS = new Set([5, 7, 9]);

/**
 * K LeNets (see models/lenet.ts). The dense head (400 -> 120 -> 84 -> 10), the loss and
 * its gradient run as batched ops over the K slots; the convolutions and pools run per
 * slot, because libtensorflow 1.15 has no grouped convolution on the CPU. LeNet's step is
 * dominated by those convolutions, not by op launches, so packing it saves little (see
 * the README); it exists so that a LeNet study can be packed like the others.
 */
export class PackedLeNetNet implements PackedNet {
  members: PackMember[] = [];
  private vars: tfTypes.Variable[] = [];
  private readonly one: tfTypes.Scalar;

  constructor(private readonly tf: Tf) {
    this.one = tf.keep(tf.scalar(1, 'float32'));
  }

  regroup(keep: readonly number[], joins: readonly PackMember[]): void {
    const tf = this.tf;
    const old = this.vars;
    const stacks = tf.tidy((): tfTypes.Tensor[] => {
      const per: tfTypes.Tensor[][] = NAMES.map(() => []);
      for (const k of keep) old.forEach((v, i) => per[i]!.push(slot(tf, v, k)));
      for (const m of joins) {
        withSingleNet(tf, new LeNetNet(tf, deriveSeed(m.seed, 'lenet-init')), m, (net) =>
          net.variables.forEach((v, i) => per[i]!.push(DENSE_BIAS.has(i) ? tf.reshape(tf.clone(v), [1, v.shape[0]!]) : tf.clone(v))),
        );
      }
      return per[0]!.length ? per.map((ts) => stackSlots(tf, ts)) : [];
    });
    this.members = [...keep.map((k) => this.members[k]!), ...joins];
    if (stacks.length === 0) {
      for (const v of old) v.dispose();
      this.vars = [];
      return;
    }
    this.vars = stacks.map((t, i) => replaceVariable(tf, old[i] ?? null, t));
    tf.dispose(stacks);
  }

  /** Slot k's variables in LeNetNet's order and shapes (dense biases [n]). */
  saveSlot(k: number): Uint8Array {
    const tf = this.tf;
    return encodeSlot(tf, () => this.vars.map((v, i) => (DENSE_BIAS.has(i) ? tf.reshape(slot(tf, v, k), [v.shape[2]!]) : slot(tf, v, k))));
  }

  /** Convolutional trunk of slot k on its own images x [B, 28, 28, 1]. */
  private trunk(k: number, x: T4) {
    const tf = this.tf;
    const v = this.vars;
    const conv = (inp: T4, K: tfTypes.Variable, b: tfTypes.Variable, pad: 'same' | 'valid'): T4 =>
      tf.fused.conv2d({ x: inp, filter: slot(tf, K, k) as T4, strides: 1, pad, bias: slot(tf, b, k), activation: 'sigmoid' });
    const s1 = conv(x, v[0]!, v[1]!, 'same');
    const p1 = tf.avgPool(s1, 2, 2, 'valid');
    const s2 = conv(p1, v[2]!, v[3]!, 'valid');
    const p2 = tf.avgPool(s2, 2, 2, 'valid');
    return { s1, p1, s2, p2, f: tf.reshape(p2, [p2.shape[0], 400]) };
  }

  private head(f: T3) {
    const tf = this.tf;
    const v = this.vars as unknown as T3[];
    const h3 = tf.sigmoid(tf.add(tf.matMul(f, v[4]!), v[5]!)) as T3;
    const h4 = tf.sigmoid(tf.add(tf.matMul(h3, v[6]!), v[7]!)) as T3;
    const z = tf.add(tf.matMul(h4, v[8]!), v[9]!) as T3;
    return { h3, h4, z };
  }

  step(x: tfTypes.Tensor, y: T3, s: PackScalars): void {
    const tf = this.tf;
    const e = tf.engine();
    const K = this.members.length;
    const v = this.vars;
    const trunks = Array.from({ length: K }, (_, k) => this.trunk(k, slot(tf, x, k) as T4));
    const f = stackSlots(tf, trunks.map((t) => t.f)) as T3;
    const { h3, h4, z } = this.head(f);
    const one = this.one;
    const sig = <T extends tfTypes.Tensor>(dy: T, act: T): T => tf.mul(dy, tf.mul(act, tf.sub(one, act))) as T;
    const d5 = tf.mul(tf.sub(tf.softmax(z), y), s.lrOverB) as T3;
    const da4 = sig(batchMatMul(tf, d5, v[8] as unknown as T3, false, true), h4);
    const da3 = sig(batchMatMul(tf, da4, v[6] as unknown as T3, false, true), h3);
    const dp2all = batchMatMul(tf, da3, v[4] as unknown as T3, false, true);
    const gK1: tfTypes.Tensor[] = [];
    const gc1: tfTypes.Tensor[] = [];
    const gK2: tfTypes.Tensor[] = [];
    const gc2: tfTypes.Tensor[] = [];
    const filterGrad = (inp: T4, dy: T4, shape: number[], pad: 'same' | 'valid'): T4 =>
      e.runKernel('Conv2DBackpropFilter', { x: inp, dy }, { strides: [1, 1], pad, dataFormat: 'NHWC', filterShape: shape }) as T4;
    trunks.forEach(({ s1, p1, s2, p2 }, k) => {
      const dp2 = tf.reshape(slot(tf, dp2all, k), p2.shape) as T4;
      const ds2 = e.runKernel('AvgPoolGrad', { dy: dp2, input: s2 }, { filterSize: 2, strides: 2, pad: 'valid' }) as T4;
      const da2 = sig(ds2, s2);
      const dp1 = tf.conv2dTranspose(da2, slot(tf, v[2]!, k) as T4, p1.shape, 1, 'valid');
      const ds1 = e.runKernel('AvgPoolGrad', { dy: dp1, input: s1 }, { filterSize: 2, strides: 2, pad: 'valid' }) as T4;
      const da1 = sig(ds1, s1);
      gK2.push(filterGrad(p1, da2, [5, 5, 6, 16], 'valid'));
      gc2.push(tf.sum(da2, [0, 1, 2]));
      gK1.push(filterGrad(slot(tf, x, k) as T4, da1, [5, 5, 1, 6], 'same'));
      gc1.push(tf.sum(da1, [0, 1, 2]));
    });
    const upd = (i: number, g: tfTypes.Tensor): void => v[i]!.assign(tf.sub(v[i]!, g));
    upd(8, batchMatMul(tf, h4, d5, true, false));
    upd(9, tf.sum(d5, 1, true));
    upd(6, batchMatMul(tf, h3, da4, true, false));
    upd(7, tf.sum(da4, 1, true));
    upd(4, batchMatMul(tf, f, da3, true, false));
    upd(5, tf.sum(da3, 1, true));
    upd(2, stackSlots(tf, gK2));
    upd(3, stackSlots(tf, gc2));
    upd(0, stackSlots(tf, gK1));
    upd(1, stackSlots(tf, gc1));
  }

  logits(x: tfTypes.Tensor): T3 {
    const tf = this.tf;
    const K = this.members.length;
    const f = stackSlots(tf, Array.from({ length: K }, (_, k) => this.trunk(k, x as T4).f)) as T3;
    return this.head(f).z;
  }

  dispose(): void {
    for (const v of this.vars) v.dispose();
    this.vars = [];
    this.members = [];
    this.one.dispose();
  }
}

export const packedLeNet: PackedModelSpec = {
  name: 'lenet',
  layout: 'image',
  evalChunk: 2000,
  shapeKey: () => '',
  batchSize: (params: Params) => batchSize(params, lenetModel.defaults.batchSize),
  createNet: (tf: Tf) => new PackedLeNetNet(tf),
};
