import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testTf, loadFashionSubset, sharedCopy, syntheticData } from './helpers.js';
import { fashionTensors, releaseFashionTensors, type FashionData } from '../../src/training/data.js';
import { fashionDataOf, shareFashionDataset } from '../../src/training/shared-dataset.js';
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
  return aloneState(model, params, seed, epochs, trainSubset, d).values;
}

/** A trial trained alone: its epoch values, and its trainer's state (checkpoint) after the last. */
function aloneState(model: string, params: Params, seed: number, epochs: number, trainSubset?: number, d: FashionData = data): { state: Uint8Array; values: number[] } {
  const t = getModel(model).createTrainer(tf, d, params, { seed, step: 'lean', ...(trainSubset ? { trainSubset } : {}) });
  const values: number[] = [];
  try {
    for (let e = 0; e < epochs; e++) {
      t.trainEpoch(e);
      values.push(t.validationError());
    }
    return { state: t.saveState(), values };
  } finally {
    t.dispose();
  }
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

/** The weights of a checkpoint, flattened. */
const weights = (state: Uint8Array): Float32Array => new Float32Array(state.buffer.slice(state.byteOffset, state.byteOffset + state.byteLength));

function assertSameWeights(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.equal(a.byteLength, b.byteLength, `${what}: same header and size`);
  const x = weights(a);
  const y = weights(b);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  assert.ok(worst <= 1e-4, `${what}: weights differ by up to ${worst}`);
}

const checkpointCases: { model: string; batch: number; subset: number; params: Params[]; skip?: string | false }[] = [
  { model: 'softmax', batch: 16, subset: 800, params: [{ learning_rate: 0.02, batch_size: 16 }, { learning_rate: 0.05, batch_size: 16 }] },
  {
    model: 'mlp',
    batch: 40,
    subset: 1000,
    // Mixed widths (padded in the pack, unpadded in the checkpoint) and dropout (masks per epoch).
    params: [{ learning_rate: 0.05, num_hiddens: 60, dropout: 0.2, batch_size: 40 }, { learning_rate: 0.1, num_hiddens: 70, dropout: 0, batch_size: 40 }],
  },
  { model: 'lenet', batch: 64, subset: 640, params: [{ learning_rate: 0.3, batch_size: 64 }, { learning_rate: 0.9, batch_size: 64 }], skip: !fastConv && 'LeNet runs on tensorflow only in tests' },
];

for (const c of checkpointCases) {
  test(`packed ${c.model}: a member's checkpoint is the single trainer's, and a member resumes from either`, { skip: c.skip ?? false }, () => {
    const base = tf.memory().numTensors;
    const small = c.model === 'lenet' ? (loadFashionSubset(640, 1000) ?? syntheticData(640, 1000)) : data;
    const [pa, pb] = c.params as [Params, Params];
    const whole = aloneState(c.model, pa, 21, 3, c.subset, small);
    const after1 = aloneState(c.model, pa, 21, 1, c.subset, small);
    const spec = packedModel(c.model)!;

    // Packed from the start: after epoch 1 member 1's checkpoint equals the single trainer's.
    const t = new PackedTrainer(tf, small, spec, c.batch, c.subset);
    t.regroup([], [{ id: 1, seed: 21, params: pa }, { id: 2, seed: 22, params: pb }]);
    t.trainEpoch();
    t.validationErrors();
    const packedAfter1 = t.saveState(1);
    assertSameWeights(after1.state, packedAfter1, 'epoch 1 checkpoint, packed vs alone');
    // With tfjs-hpo's GEMM the packed softmax and MLP steps are the single steps' bits.
    const exact = c.model !== 'lenet' && backend === 'tensorflow' && hpoKernels() !== undefined;
    if (exact) assert.ok(Buffer.from(packedAfter1).equals(Buffer.from(after1.state)), 'bit-identical checkpoint');
    t.dispose();

    // Resumed packed from the single trainer's checkpoint, beside a fresh member: epochs 2-3
    // continue the trial (same minibatch order and dropout masks as never interrupted).
    const r = new PackedTrainer(tf, small, spec, c.batch, c.subset);
    assert.equal(r.regroup([], [{ id: 2, seed: 22, params: pb }, { id: 1, seed: 21, params: pa, resume: { epoch: 1, data: after1.state } }]).size, 0);
    const got: number[] = [];
    for (let e = 0; e < 2; e++) {
      r.trainEpoch();
      got.push(r.validationErrors()[r.ids.indexOf(1)]!);
      if (e === 0) assert.deepEqual(r.epochs[r.ids.indexOf(1)], 2, 'the resumed member is at its epoch 2');
    }
    assertClose(whole.values.slice(1), got, 'resumed packed');
    const resumedState = r.saveState(1);
    assertSameWeights(whole.state, resumedState, 'epoch 3 weights');
    if (exact) assert.ok(Buffer.from(resumedState).equals(Buffer.from(whole.state)), 'bit-identical after resuming packed');
    r.dispose();

    // Resumed alone from the packed checkpoint.
    const single = getModel(c.model).createTrainer(tf, small, pa, { seed: 21, step: 'lean', trainSubset: c.subset });
    single.loadState(packedAfter1);
    const alone2: number[] = [];
    for (let e = 1; e < 3; e++) {
      single.trainEpoch(e);
      alone2.push(single.validationError());
    }
    single.dispose();
    assertClose(whole.values.slice(1), alone2, 'resumed alone from the packed checkpoint');
    if (small !== data) releaseFashionTensors(tf, small);
    releaseFashionTensors(tf, data);
    assert.equal(tf.memory().numTensors, base);
  });
}

test('a checkpoint that does not fit rejects that member alone', () => {
  const base = tf.memory().numTensors;
  const mlp = aloneState('mlp', { learning_rate: 0.1, num_hiddens: 32, batch_size: 16 }, 3, 1, 320);
  const t = new PackedTrainer(tf, data, packedModel('softmax')!, 16, 320);
  const p = { learning_rate: 0.05, batch_size: 16 };
  const rejected = t.regroup([], [
    { id: 1, seed: 1, params: p },
    { id: 2, seed: 2, params: p, resume: { epoch: 1, data: mlp.state } },
    { id: 3, seed: 3, params: p, resume: { epoch: -1, data: mlp.state } },
  ]);
  assert.deepEqual([...rejected.keys()].sort(), [2, 3]);
  assert.match(rejected.get(2)!, /cannot resume from the checkpoint/);
  assert.deepEqual(t.ids, [1]);
  t.trainEpoch();
  assert.equal(t.validationErrors().length, 1);
  t.dispose();
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
    const packedW = tf.tidy(() => tf.slice(W, [k, 0, 0], [1, -1, -1]).dataSync() as Float32Array);
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

// The packed softmax epoch as one op (HpoSoftmaxSgdEpoch, used when the training images are
// kept as bytes, as `hpo run` keeps them) computes what the op-by-op steps compute: the same
// bits as each trial alone, on the float layout. A short last batch (1605 = 160 x 10 + 5)
// and a chaotic learning rate (0.9) included.
test('the fused packed softmax epoch (images as bytes) is bit-identical to trials alone', { skip: !gemm && 'needs the tensorflow backend with tfjs-hpo kernels' }, () => {
  const base = tf.memory().numTensors;
  const ds = sharedCopy(data);
  const bytes = fashionDataOf(shareFashionDataset(ds, ['flat1'], 'tensorflow'));
  assert.ok(bytes.shared?.flat1?.trainBytes, 'the images are shared as bytes');
  assert.ok(fashionTensors(tf, bytes, 'flat1', 1605).trainSource, 'the fused step has its pixel source');
  // Batch 100: the trial alone computes its weight gradient as (d^T x)^T from 64 rows on.
  for (const [B, K] of [[10, 1], [10, 4], [100, 3]] as const) {
    const members = [0.9, 0.3, 0.02, 0.6].map((lr, i) => ({ id: i + 1, seed: 70 + i, params: { learning_rate: lr, batch_size: B } }));
    const ps = new PackedTrainer(tf, bytes, packedModel('softmax')!, B, 1605);
    ps.regroup([], members.slice(0, K));
    ps.trainEpoch();
    ps.trainEpoch();
    const W = (ps as unknown as { net: { W: tfTypes.Tensor } }).net.W;
    members.slice(0, K).forEach((m, k) => {
      const [w] = aloneWeights('softmax', m.params, m.seed, 2, 1605);
      const packedW = tf.tidy(() => tf.slice(W, [k, 0, 0], [1, -1, -1]).dataSync() as Float32Array);
      assert.deepEqual(packedW, w, `batch ${B}, K=${K}, trial ${m.id}: weights differ`);
    });
    ps.dispose();
  }
  releaseFashionTensors(tf, bytes);
  releaseFashionTensors(tf, data);
  assert.equal(tf.memory().numTensors, base);
});
