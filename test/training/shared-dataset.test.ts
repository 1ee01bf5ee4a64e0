import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testTf, sharedCopy, syntheticData } from './helpers.js';
import {
  buildSharedLayout,
  fashionTensors,
  releaseFashionTensors,
  LAYOUT_ALIGN_BYTES,
  PIXELS,
  type FashionData,
  type Layout,
} from '../../src/training/data.js';
import { keepNativeResident, zeroCopyOffset } from '../../src/training/backend.js';
import { runFashionTrial } from '../../src/training/fashion-objective.js';
import { DEBIAN_DIR, loadFashionMnistDir } from '../../src/data/fashion-mnist.js';
import { loadSharedFashion, shareFashionDataset } from '../../src/training/shared-dataset.js';
import { DatasetError } from '../../src/errors.js';
import { hpoKernels } from '../../src/training/hpo-kernels.js';
import { nativeOps } from '../../src/training/native-ops.js';

const { tf, backend } = await testTf();
const native = backend === 'tensorflow';
// The offset tfjs-node's libtensorflow reads in place (the addon is loaded in this thread).
const align = (buf: SharedArrayBuffer): number => (native ? (zeroCopyOffset(buf) ?? 0) : 0);

/** The same data twice: once with a shared layout, once with the bytes only (per-thread copy path). */
function bothPaths(layout: Layout, nTrain: number, nTest: number): { shared: FashionData; copied: FashionData } {
  const raw = syntheticData(nTrain, nTest, 11);
  const layoutBuf = buildSharedLayout(raw.trainImages!, raw.testImages!, layout, align);
  return {
    copied: raw,
    shared: { trainLabels: raw.trainLabels, testLabels: raw.testLabels, shared: { [layout]: layoutBuf } },
  };
}

for (const layout of ['flat1', 'image'] as const) {
  test(`${layout}: tensors over the shared layout equal the per-thread copies, element for element`, () => {
    const { shared, copied } = bothPaths(layout, 300, 70);
    const S = fashionTensors(tf, shared, layout);
    const C = fashionTensors(tf, copied, layout);
    assert.deepEqual(S.trainX!.shape, C.trainX!.shape);
    assert.deepEqual(S.testX.shape, C.testX.shape);
    assert.deepEqual(S.trainX!.dataSync(), C.trainX!.dataSync());
    assert.deepEqual(S.testX.dataSync(), C.testX.dataSync());
    // Chunks of test rows, aligned (views) and not (slices), hold the same rows.
    for (const [start, size] of [[0, 16], [16, 32], [48, 22], [5, 9]] as const) {
      const a = tf.tidy(() => Array.from(S.testRows(start, size).dataSync()));
      const b = tf.tidy(() => Array.from(tf.slice(C.testX, start, size).dataSync()));
      assert.deepEqual(a, b, `rows [${start}, ${start + size})`);
    }
    assert.throws(() => S.testRows(60, 20), RangeError);
    releaseFashionTensors(tf, shared);
    releaseFashionTensors(tf, copied);
  });
}

// tfjs-hpo's kernels: the training rows kept as bytes and gathered by HpoGather* give the
// very floats of the float layout (row for row, through the tfjs API and raw handles).
for (const layout of ['flat1', 'image'] as const) {
  test(`${layout}: training rows kept as bytes gather to the float layout's values`, { skip: !(native && hpoKernels()) && 'needs the tensorflow backend with tfjs-hpo kernels' }, () => {
    const raw = syntheticData(300, 70, 13);
    const floats = fashionTensors(tf, raw, layout);
    const bytesLayout = buildSharedLayout(raw.trainImages!, raw.testImages!, layout, align, true);
    assert.equal(bytesLayout.trainBytes, true);
    const data: FashionData = { trainLabels: raw.trainLabels, testLabels: raw.testLabels, shared: { [layout]: bytesLayout } };
    const B = fashionTensors(tf, data, layout);
    assert.equal(B.trainX, null);
    const idx = [299, 0, 17, 17, 150, 3];
    const want = tf.tidy(() => floats.gatherTrain(tf.tensor2d(idx, [2, 3], 'int32')));
    const got = tf.tidy(() => B.gatherTrain(tf.tensor2d(idx, [2, 3], 'int32')));
    assert.deepEqual(got.shape, want.shape);
    assert.deepEqual(got.dataSync(), want.dataSync());
    const ops = nativeOps(tf)!;
    const ih = ops.upload([idx.length], Int32Array.from(idx));
    const h = B.gatherTrainNative(ops, ih);
    const viaHandles = ops.toTensor(tf, h, [idx.length, ...want.shape.slice(2)]);
    assert.deepEqual(viaHandles.dataSync(), want.dataSync());
    ops.del(ih);
    // A row outside the set is an error, not a read past the buffer.
    assert.throws(() => tf.tidy(() => B.gatherTrain(tf.tensor1d([300], 'int32')).dataSync()), /outside \[0, 300\)/);
    // The test rows stay float and equal.
    assert.deepEqual(B.testX.dataSync(), floats.testX.dataSync());
    tf.dispose([want, got, viaHandles]);
    releaseFashionTensors(tf, data);
    releaseFashionTensors(tf, raw);
  });
}

test('a shared layout without the images, and no layout without them, are told apart', () => {
  const { shared } = bothPaths('flat1', 32, 16);
  assert.throws(() => fashionTensors(tf, shared, 'image'), (e: unknown) => e instanceof DatasetError && /no image layout was shared/.test(e.message));
});

test('softmax and mlp give bit-identical epoch values on the shared and the copy path', async () => {
  for (const [model, params] of [
    ['softmax', { learning_rate: 0.3 }],
    ['mlp', { learning_rate: 0.2, num_hiddens: 32, dropout: 0.2, batch_size: 64 }],
  ] as const) {
    const { shared, copied } = bothPaths('flat1', 600, 200);
    const values: number[][] = [];
    for (const data of [shared, copied]) {
      const seen: number[] = [];
      await runFashionTrial(tf, data, model, { ...params }, { seed: 42, maxEpochs: 3, report: async (_e, v) => (seen.push(v), false) });
      values.push(seen);
      releaseFashionTensors(tf, data);
    }
    assert.equal(values[0]!.length, 3);
    assert.deepEqual(values[0], values[1], `${model}: shared ${values[0]!.join(', ')} vs copied ${values[1]!.join(', ')}`);
  }
});

test('tf.memory().numTensors returns to its baseline after trials on the shared path', async () => {
  const before = tf.memory().numTensors;
  const { shared } = bothPaths('flat1', 400, 150);
  for (let seed = 1; seed <= 2; seed++) {
    await runFashionTrial(tf, shared, 'softmax', { learning_rate: 0.1 }, { seed, maxEpochs: 2, trainSubset: 200, report: async () => false });
  }
  assert.ok(tf.memory().numTensors > before, 'the dataset tensors (and their test-row views) are cached between trials');
  releaseFashionTensors(tf, shared);
  assert.equal(tf.memory().numTensors, before);
});

test('zeroCopyOffset: libtensorflow reads the shared memory in place at the offset it returns', { skip: !native && `backend ${backend}` }, () => {
  assert.equal(keepNativeResident(), true);
  const buf = new SharedArrayBuffer(LAYOUT_ALIGN_BYTES + 4 * 4096);
  const offset = zeroCopyOffset(buf);
  assert.ok(offset !== undefined && offset % 4 === 0 && offset < LAYOUT_ALIGN_BYTES, `offset ${offset}`);
  const view = new Float32Array(buf, offset, 4096);
  view.fill(2);
  const t = tf.tensor1d(view);
  assert.equal(tf.tidy(() => tf.sum(t).dataSync()[0]), 2 * 4096); // creates the TF tensor
  view[7] = 1000; // changes what libtensorflow reads: no copy was made
  assert.equal(tf.tidy(() => tf.sum(t).dataSync()[0]), 2 * 4095 + 1000);
  t.dispose();
});

test('shareFashionDataset reports whether the backend reads the layout in place', () => {
  const raw = syntheticData(64, 16, 3);
  const ds = sharedCopy(raw);
  assert.equal(shareFashionDataset(ds, ['flat1'], 'cpu').zeroCopy, true);
  assert.equal(shareFashionDataset(ds, ['flat1'], 'wasm').zeroCopy, false);
  const none = shareFashionDataset(ds, [], 'cpu');
  assert.equal(none.zeroCopy, false);
  assert.ok(none.images, 'without a layout the threads get the bytes');
  if (native) assert.equal(shareFashionDataset(ds, ['image'], 'tensorflow').zeroCopy, true);
});

const haveFashion = existsSync(DEBIAN_DIR);

test('streamed decoding gives the same layout as decoding the whole files', { skip: !haveFashion && 'needs dataset-fashion-mnist' }, async () => {
  const whole = loadFashionMnistDir(DEBIAN_DIR, 'debian');
  const streamed = await loadSharedFashion(DEBIAN_DIR, ['flat1', 'image'], native ? 'tensorflow' : 'cpu');
  assert.equal(streamed.images, null);
  assert.deepEqual(new Uint8Array(streamed.trainLabels), new Uint8Array(whole.trainLabels));
  assert.deepEqual(new Uint8Array(streamed.testLabels), new Uint8Array(whole.testLabels));
  for (const layout of ['flat1', 'image'] as const) {
    const got = streamed.layouts[layout]!;
    // With tfjs-hpo's kernels the training rows stay bytes (see shared-dataset.ts).
    const ref = buildSharedLayout(new Uint8Array(whole.trainImages), new Uint8Array(whole.testImages), layout, undefined, got.trainBytes);
    const w = layout === 'flat1' ? PIXELS + 1 : PIXELS;
    const trainLen = got.trainBytes ? 60000 * PIXELS : 60000 * w * 4;
    assert.ok(Buffer.from(got.buffer, got.trainOffset, trainLen).equals(Buffer.from(ref.buffer, ref.trainOffset, trainLen)), `${layout}: training rows differ`);
    if (got.trainBytes) assert.ok(Buffer.from(got.buffer, got.trainOffset, trainLen).equals(Buffer.from(whole.trainImages)), `${layout}: training bytes differ from the file's`);
    assert.ok(Buffer.from(got.buffer, got.testOffset, 10000 * w * 4).equals(Buffer.from(ref.buffer, ref.testOffset, 10000 * w * 4)), `${layout}: test rows differ`);
  }
});

test('a corrupt file fails the streamed decode with one DatasetError line', { skip: !haveFashion && 'needs dataset-fashion-mnist' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hpo-decode-'));
  for (const f of ['train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
    writeFileSync(join(dir, f), readFileSync(join(DEBIAN_DIR, f)));
  }
  const train = readFileSync(join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz'));
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), train.subarray(0, train.length >> 1));
  await assert.rejects(loadSharedFashion(dir, ['flat1'], 'cpu'), (e: unknown) => e instanceof DatasetError && /train-images-idx3-ubyte\.gz is truncated or corrupt/.test(e.message) && !e.message.includes('\n'));
});
