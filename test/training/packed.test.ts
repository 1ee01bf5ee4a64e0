import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testTf, loadFashionSubset, syntheticData } from './helpers.js';
import { releaseFashionTensors, type FashionData } from '../../src/training/data.js';
import { getModel } from '../../src/training/models/index.js';
import { packedModel, PackedTrainer, type PackMember } from '../../src/training/packed/index.js';
import { widthBucket } from '../../src/training/packed/mlp.js';
import type { Params } from '../../src/space/distribution.js';
import { hpoKernels } from '../../src/training/hpo-kernels.js';
import type * as tfTypes from '@tensorflow/tfjs';

const { tf, backend } = await testTf();
const fashion = loadFashionSubset(3000, 10000);
const data: FashionData = fashion ?? syntheticData(3000, 2000);
const fastConv = backend === 'tensorflow';
console.log(`# backend ${backend}, data ${fashion ? 'Fashion-MNIST subset' : 'synthetic'}`);

/** Epoch values of one trial trained alone, as runFashionTrial trains it. */
function alone(model: string, params: Params, seed: number, epochs: number, trainSubset?: number, d: FashionData = data): number[] {
  const t = getModel(model).createTrainer(tf, d, params, { seed, step: 'lean', ...(trainSubset ? { trainSubset } : {}) });
  const out: number[] = [];
  try {
    for (let e = 0; e < epochs; e++) {
      t.trainEpoch(e);
      out.push(t.validationError());
    }
  } finally {
    t.dispose();
  }
  return out;
}

/** Epoch values of every member trained in one pack, by member id. */
function packed(model: string, members: PackMember[], epochs: number, batch: number, trainSubset?: number, d: FashionData = data): Map<number, number[]> {
  const spec = packedModel(model)!;
  const t = new PackedTrainer(tf, d, spec, batch, trainSubset);
  const out = new Map<number, number[]>(members.map((m) => [m.id, []]));
  try {
    assert.equal(t.regroup([], members).size, 0);
    for (let e = 0; e < epochs; e++) {
      t.trainEpoch();
      t.validationErrors().forEach((v, k) => out.get(t.ids[k]!)!.push(v));
    }
  } finally {
    t.dispose();
  }
  return out;
}

function assertClose(a: number[], b: number[], what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= 1e-4 + 1e-9, `${what} epoch ${i + 1}: alone ${v}, packed ${b[i]}`));
}

// Learning rates stay where minibatch SGD is stable: at batch 16 and lr above about 0.3 the
// trajectory is chaotic, and the last-bit differences between libtensorflow's batched and
// single matMul kernels grow into different (equally good) runs; see the README.
test('packed softmax: 8 members give each trial its own epoch values', () => {
  const base = tf.memory().numTensors;
  const members = Array.from({ length: 8 }, (_, i) => ({ id: i + 1, seed: 1000 + i * 7, params: { learning_rate: 0.01 * 1.4 ** i } }));
  const got = packed('softmax', members, 2, 16);
  for (const m of members) assertClose(alone('softmax', m.params, m.seed, 2), got.get(m.id)!, `trial ${m.id}`);
  releaseFashionTensors(tf, data);
  assert.equal(tf.memory().numTensors, base);
});

test('packed MLP: mixed widths (padded) and dropout, each member as if alone', () => {
  const base = tf.memory().numTensors;
  const cfg: [number, number, number][] = [
    [0.05, 100, 0.3],
    [0.1, 120, 0],
    [0.08, 128, 0.2],
    [0.03, 110, 0.5],
  ];
  for (const [, h] of cfg) assert.equal(widthBucket(h), widthBucket(100));
  const members = cfg.map(([lr, h, p], i) => ({ id: i + 1, seed: 77 + i, params: { learning_rate: lr, num_hiddens: h, dropout: p, batch_size: 64 } }));
  const got = packed('mlp', members, 2, 64, 2000);
  for (const m of members) assertClose(alone('mlp', m.params, m.seed, 2, 2000), got.get(m.id)!, `trial ${m.id}`);
  releaseFashionTensors(tf, data);
  assert.equal(tf.memory().numTensors, base);
});

test('packed MLP: padded units stay exactly zero', () => {
  const spec = packedModel('mlp')!;
  const t = new PackedTrainer(tf, data, spec, 32, 256);
  t.regroup([], [
    { id: 1, seed: 1, params: { learning_rate: 0.5, num_hiddens: 40, dropout: 0.3, batch_size: 32 } },
    { id: 2, seed: 2, params: { learning_rate: 0.5, num_hiddens: 50, dropout: 0, batch_size: 32 } },
  ]);
  t.trainEpoch();
  const net = (t as unknown as { net: { W1: import('@tensorflow/tfjs').Tensor; W2: import('@tensorflow/tfjs').Tensor } }).net;
  const pad1 = tf.tidy(() => tf.max(tf.abs(tf.slice(net.W1, [0, 0, 40], [1, -1, 10]))).dataSync()[0]);
  const pad2 = tf.tidy(() => tf.max(tf.abs(tf.slice(net.W2, [0, 40, 0], [1, 10, -1]))).dataSync()[0]);
  const live = tf.tidy(() => tf.max(tf.abs(tf.slice(net.W1, [0, 0, 0], [1, -1, 40]))).dataSync()[0]!);
  assert.equal(pad1, 0);
  assert.equal(pad2, 0);
  assert.ok(live > 0);
  t.dispose();
  releaseFashionTensors(tf, data);
});

test('packed LeNet: each member as if alone', { skip: !fastConv && 'LeNet runs on tensorflow only in tests (slow or missing conv gradients)' }, () => {
  const base = tf.memory().numTensors;
  const members = [0.1, 0.3, 0.9].map((lr, i) => ({ id: i + 1, seed: 500 + i, params: { learning_rate: lr, batch_size: 64 } }));
  // A small test set keeps LeNet's inference short; 1e-4 then means equal.
  const small = loadFashionSubset(640, 1000) ?? syntheticData(640, 1000);
  const got = packed('lenet', members, 2, 64, undefined, small);
  for (const m of members) assertClose(alone('lenet', m.params, m.seed, 2, undefined, small), got.get(m.id)!, `trial ${m.id}`);
  releaseFashionTensors(tf, small);
  assert.equal(tf.memory().numTensors, base);
});

test('members leave and join between epochs; the others go on as if alone', () => {
  const base = tf.memory().numTensors;
  const p = (lr: number, h: number): Params => ({ learning_rate: lr, num_hiddens: h, dropout: 0.1, batch_size: 50 });
  const a = { id: 1, seed: 11, params: p(0.05, 60) };
  const b = { id: 2, seed: 12, params: p(0.1, 70) };
  const c = { id: 3, seed: 13, params: p(0.07, 64) };
  const t = new PackedTrainer(tf, data, packedModel('mlp')!, 50, 1000);
  const seen = new Map<number, number[]>([[1, []], [2, []], [3, []]]);
  const record = (): void => t.validationErrors().forEach((v, k) => seen.get(t.ids[k]!)!.push(v));
  t.regroup([], [a, b]);
  t.trainEpoch();
  record();
  // b (the widest) leaves, c joins at its epoch 1 while a trains its epoch 2.
  const rejected = t.regroup([2], [c, { id: 4, seed: 14, params: { ...p(0.1, 60), batch_size: 32 } }, { id: 5, seed: 15, params: { learning_rate: -1 } }]);
  assert.deepEqual([...rejected.keys()], [4, 5]);
  assert.match(rejected.get(4)!, /batch_size 32/);
  assert.deepEqual(t.ids, [1, 3]);
  t.trainEpoch();
  record();
  t.regroup([1], []);
  t.trainEpoch();
  record();
  t.regroup([3], []);
  assert.equal(t.size, 0);
  t.dispose();
  assertClose(alone('mlp', a.params, a.seed, 2, 1000), seen.get(1)!, 'a');
  assertClose(alone('mlp', b.params, b.seed, 1, 1000), seen.get(2)!, 'b');
  assertClose(alone('mlp', c.params, c.seed, 2, 1000), seen.get(3)!, 'c');
  releaseFashionTensors(tf, data);
  assert.equal(tf.memory().numTensors, base);
});

/** The trained variables of one trial alone (its net's W / W1, W2, b2), as flat arrays. */
function aloneWeights(model: string, params: Params, seed: number, epochs: number, trainSubset: number): Float32Array[] {
  const t = getModel(model).createTrainer(tf, data, params, { seed, step: 'lean', trainSubset });
  try {
    for (let e = 0; e < epochs; e++) t.trainEpoch(e);
    const net = (t as unknown as { net: { variables: tfTypes.Variable[] } }).net;
    return net.variables.map((v) => v.dataSync() as Float32Array);
  } finally {
    t.dispose();
  }
}

const gemm = backend === 'tensorflow' && hpoKernels() !== undefined;

// With tfjs-hpo's GEMM (src/native) every product's bits are independent of the batch it
// sits in, and the packed native steps run the single steps' ops per slot: a packed trial
// is then the very same computation as the trial alone, even where SGD is chaotic
// (batch 16, lr 0.9), where any last-bit difference would grow into a different run.
test('with tfjs-hpo GEMM, packed trials are bit-identical to trials alone', { skip: !gemm && 'needs the tensorflow backend with tfjs-hpo GEMM kernels' }, () => {
  const base = tf.memory().numTensors;
  // Batch sizes that are not multiples of 4 (and short last batches) too: a row's gradient
  // must not depend on its position in the tensor.
  const sm = [0.9, 0.5, 0.05].map((lr, i) => ({ id: i + 1, seed: 40 + i, params: { learning_rate: lr, batch_size: 10 } }));
  const spec = packedModel('softmax')!;
  const ps = new PackedTrainer(tf, data, spec, 10, 1605);
  ps.regroup([], sm);
  ps.trainEpoch();
  ps.trainEpoch();
  const W = (ps as unknown as { net: { W: tfTypes.Tensor } }).net.W;
  sm.forEach((m, k) => {
    const [w] = aloneWeights('softmax', m.params, m.seed, 2, 1605);
    // Packed softmax stores W transposed: slot k is W^T [10, 785].
    const packedW = tf.tidy(() => tf.transpose(tf.slice(W, [k, 0, 0], [1, -1, -1]).reshape([10, 785])).dataSync() as Float32Array);
    assert.deepEqual(packedW, w, `softmax trial ${m.id}: weights differ`);
  });
  ps.dispose();

  const cfg: [number, number, number][] = [[0.9, 100, 0.3], [0.5, 128, 0], [0.2, 110, 0.5]];
  const mm = cfg.map(([lr, h, p], i) => ({ id: i + 1, seed: 90 + i, params: { learning_rate: lr, num_hiddens: h, dropout: p, batch_size: 50 } }));
  const pm = new PackedTrainer(tf, data, packedModel('mlp')!, 50, 960);
  pm.regroup([], mm);
  pm.trainEpoch();
  pm.trainEpoch();
  const net = (pm as unknown as { net: { W1: tfTypes.Tensor; W2: tfTypes.Tensor; b2: tfTypes.Tensor } }).net;
  mm.forEach((m, k) => {
    const h = cfg[k]![1];
    const [w1, w2, b2] = aloneWeights('mlp', m.params, m.seed, 2, 960);
    const [p1, p2, pb] = tf.tidy(() => [
      tf.slice(net.W1, [k, 0, 0], [1, -1, h]).dataSync() as Float32Array,
      tf.slice(net.W2, [k, 0, 0], [1, h, -1]).dataSync() as Float32Array,
      tf.slice(net.b2, [k, 0, 0], [1, -1, -1]).dataSync() as Float32Array,
    ]);
    assert.deepEqual(p1, w1, `mlp trial ${m.id}: W1 differs`);
    assert.deepEqual(p2, w2, `mlp trial ${m.id}: W2 differs`);
    assert.deepEqual(pb, b2, `mlp trial ${m.id}: b2 differs`);
  });
  pm.dispose();
  releaseFashionTensors(tf, data);
  assert.equal(tf.memory().numTensors, base);
});
