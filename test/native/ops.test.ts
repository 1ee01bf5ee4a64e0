import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testTf } from '../training/helpers.js';
import { hpoKernels } from '../../src/training/hpo-kernels.js';
import { nativeOps } from '../../src/training/native-ops.js';
import { FastRng } from '../../src/random.js';

const { tf, backend } = await testTf();
const kernels = backend === 'tensorflow' ? hpoKernels() : undefined;
const skip = !kernels && 'needs the tensorflow backend with tfjs-hpo kernels';

test('HpoDropoutMask draws exactly FastRng.fillMask, draw after draw', { skip }, () => {
  const ops = nativeOps(tf)!;
  for (const [seed, p] of [[1, 0.2], [77, 0.5], [123456789, 0.05], [9, 0.999]] as const) {
    const js = new FastRng(seed);
    const native = new FastRng(seed);
    const keep = 1 / (1 - p);
    const id = kernels!.dropoutStream(-1, native.state(), FastRng.dropThreshold(p), keep);
    const sid = ops.upload([], Int32Array.of(id));
    for (const [rows, cols] of [[3, 7], [256, 128], [1, 1], [0, 5], [5, 33]] as const) {
      const want = new Float32Array(rows * cols);
      js.fillMask(want, p, keep);
      const h = ops.run('HpoDropoutMask', [], [sid, ops.ints([rows, cols])]);
      const got = ops.toTensor(tf, h, [rows, cols]);
      assert.deepEqual(got.dataSync(), want, `seed ${seed}, p ${p}, [${rows}, ${cols}]`);
      got.dispose();
    }
    // Drops happen at about the rate asked for (the stream is not stuck).
    const big = ops.toTensor(tf, ops.run('HpoDropoutMask', [], [sid, ops.ints([100, 100])]), [100, 100]);
    const dropped = (big.dataSync() as Float32Array).filter((v) => v === 0).length / 10000;
    assert.ok(Math.abs(dropped - p) < 0.03, `seed ${seed}: dropped ${dropped}, asked ${p}`);
    big.dispose();
    ops.del(sid);
  }
  assert.throws(() => kernels!.dropoutStream(10 ** 6, [1, 2, 3, 4], 0, 1), /unknown stream/);
});

test('HpoGather and HpoMatMul refuse bad inputs with an error, not a crash', { skip }, () => {
  const ops = nativeOps(tf)!;
  const a = ops.upload([3, 4], new Float32Array(12));
  const b = ops.upload([5, 6], new Float32Array(30));
  assert.throws(() => ops.run('HpoMatMulNN', [], [a, b]));
  const src = ops.upload([], Int32Array.of(99999));
  const idx = ops.upload([1], Int32Array.of(0));
  assert.throws(() => ops.run('HpoGatherFlat1', [], [src, idx]));
  ops.delAll([a, b, src, idx]);
});

// The gathers convert bytes with a vector division; every byte value must give what
// JavaScript's b / 255 stores into a Float32Array (the float layouts' values), on every
// GEMM body (the CI machine runs AVX-512; test/native/gemm.test.ts runs the others).
test('HpoGatherFlat1 / HpoGatherImage give b / 255 for every byte value, and the 1 column', { skip }, () => {
  const ops = nativeOps(tf)!;
  const rows = 3;
  const images = new Uint8Array(new SharedArrayBuffer(rows * 784));
  for (let i = 0; i < images.length; i++) images[i] = (i * 7 + (i >> 8)) & 255;
  const seen = new Set(images);
  assert.equal(seen.size, 256, 'the rows hold every byte value');
  const src = ops.upload([], Int32Array.of(kernels!.registerPixels(images)));
  const idx = ops.upload([4], Int32Array.of(2, 0, 1, 2));
  for (const [op, width, shape] of [['HpoGatherFlat1', 785, [4, 785]], ['HpoGatherImage', 784, [4, 28, 28, 1]]] as const) {
    const got = ops.toTensor(tf, ops.run(op, [], [src, idx]), [...shape]);
    const want = new Float32Array(4 * width);
    [2, 0, 1, 2].forEach((r, i) => {
      for (let c = 0; c < 784; c++) want[i * width + c] = images[r * 784 + c]! / 255;
      if (width === 785) want[i * width + 784] = 1;
    });
    assert.deepEqual(got.dataSync(), want, op);
    got.dispose();
  }
  ops.delAll([src, idx]);
});

test('prefault maps a Uint8Array in place without changing it; anything else is refused', { skip }, () => {
  const bytes = new Uint8Array(new SharedArrayBuffer(1 << 20)).fill(7);
  assert.equal(typeof kernels!.prefault(bytes), 'boolean');
  assert.ok(bytes.every((v) => v === 7), 'the contents are kept');
  assert.throws(() => kernels!.prefault(new Float32Array(4) as unknown as Uint8Array), /prefault: expected a Uint8Array/);
  assert.throws(() => kernels!.registerPixels(new Uint8Array(100)), /whole 784-byte images/);
});

// The fused products must give what the product followed by TensorFlow's own op gives, bit
// for bit (the MLP and softmax steps switched to them without changing any result).
test('HpoMatMul with an epilogue equals the product followed by Sub / Relu / Mul / ReluGrad', { skip }, () => {
  const ops = nativeOps(tf)!;
  const vals = (n: number, seed: number): Float32Array => {
    const r = new FastRng(seed);
    return Float32Array.from({ length: n }, () => r.next() * 2 - 1);
  };
  const read = (h: number, shape: number[]): Float32Array => {
    const t = ops.toTensor(tf, h, shape);
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  };
  // [batch | null, M, N, K]: a narrow product, a wide one across K blocks, a packed batch.
  for (const [batch, M, N, K] of [[null, 16, 10, 785], [null, 37, 130, 300], [3, 20, 40, 70]] as const) {
    const lead = batch === null ? [] : [batch];
    const out = [...lead, M, N];
    const up = (shape: number[], seed: number): number => ops.upload(shape, vals(shape.reduce((a, b) => a * b, 1), seed));
    const a = up([...lead, M, K], 1);
    const aT = up([...lead, K, M], 2);
    const b = up([...lead, K, N], 3);
    const bT = up([...lead, N, K], 4);
    const e = up(out, 5);
    // A dropout-like mask: zeros and 1 / (1 - 0.2).
    const mask = ops.upload(out, Float32Array.from({ length: out.reduce((x, y) => x * y, 1) }, (_, i) => (i % 3 === 0 ? 0 : 1.25)));
    // Intermediate handles of the separate ops, freed at the end.
    const tmp: number[] = [];
    const keep = (h: number): number => (tmp.push(h), h);
    const product = (op: string, x: number, y: number): number => keep(ops.run(op, [], [x, y]));
    const relu = (h: number): number => keep(ops.run('Relu', ops.tFloat, [h]));
    const cases: [string, () => number, () => number][] = [
      ['TNSub', () => ops.run('HpoMatMulTNSub', [], [aT, b, e]), () => ops.bin('Sub', e, product('HpoMatMulTN', aT, b))],
      ['NNSub', () => ops.run('HpoMatMulNNSub', [], [a, b, e]), () => ops.bin('Sub', e, product('HpoMatMulNN', a, b))],
      ['NTSub', () => ops.run('HpoMatMulNTSub', [], [a, bT, e]), () => ops.bin('Sub', e, product('HpoMatMulNT', a, bT))],
      ['TTSub', () => ops.run('HpoMatMulTTSub', [], [aT, bT, e]), () => ops.bin('Sub', e, product('HpoMatMulTT', aT, bT))],
      ['NNRelu', () => ops.run('HpoMatMulNNRelu', [], [a, b]), () => ops.run('Relu', ops.tFloat, [product('HpoMatMulNN', a, b)])],
      ['NNReluMask', () => ops.run('HpoMatMulNNReluMask', [], [a, b, mask]), () => ops.bin('Mul', relu(product('HpoMatMulNN', a, b)), mask)],
      ['NTReluGrad', () => ops.run('HpoMatMulNTReluGrad', [], [a, bT, e]), () => ops.bin('ReluGrad', product('HpoMatMulNT', a, bT), e)],
    ];
    for (const [name, fused, separate] of cases) {
      const got = read(fused(), out);
      const want = read(separate(), out);
      assert.ok(got.some((v) => v !== 0), `${name}: not all zero`);
      assert.ok(
        got.every((v, i) => Object.is(v, want[i])),
        `${name} [${out.join(', ')}] x K ${K}: differs at ${got.findIndex((v, i) => !Object.is(v, want[i]))}`,
      );
    }
    // The epilogue operand must have the product's shape.
    const wrong = up([...lead, M, N + 1], 6);
    assert.throws(() => ops.run('HpoMatMulTNSub', [], [aT, b, wrong]), /epilogue operand must be float32 of the product's shape/);
    ops.delAll([a, aT, b, bT, e, mask, wrong, ...tmp]);
  }
});

test('HpoSoftmaxSgdEpoch refuses bad labels, rows and batch sizes with an error, not a crash', { skip }, () => {
  const ops = nativeOps(tf)!;
  const images = new Uint8Array(new SharedArrayBuffer(2 * 784)).fill(9);
  const src = ops.upload([], Int32Array.of(kernels!.registerPixels(images)));
  const W = ops.upload([1, 785, 10], new Float32Array(7850));
  const scale = ops.upload([1], Float32Array.of(0.1));
  const inputs: number[] = [];
  const run = (rows: number[], labels: number[], batch: number): number => {
    const idx = ops.upload([1, rows.length], Int32Array.from(rows));
    const lab = ops.upload([1, labels.length], Int32Array.from(labels));
    inputs.push(idx, lab);
    return ops.run('HpoSoftmaxSgdEpoch', [], [W, src, idx, lab, scale, scale, ops.ints([batch], [])]);
  };
  assert.throws(() => run([0, 1], [0, 10], 2), /label 10 is outside \[0, 10\)/);
  assert.throws(() => run([0, 2], [0, 1], 2), /row 2 is outside \[0, 2\)/);
  assert.throws(() => run([0, 1], [0, 1], 0), /batch must be a positive int32 scalar/);
  // A valid epoch moves the weights (zero weights: every class gets -lr/B x on the wrong ones).
  const moved = ops.toTensor(tf, run([0, 1, 1], [3, 3, 4], 2), [1, 785, 10]);
  assert.ok((moved.dataSync() as Float32Array).some((v) => v !== 0), 'the weights changed');
  moved.dispose();
  ops.delAll([src, W, scale, ...inputs]);
});
