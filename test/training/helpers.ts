import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { FashionData, Tf } from '../../src/training/data.js';
import type { SharedFashionMnist } from '../../src/data/fashion-mnist.js';
import { loadBackend } from '../../src/training/backend.js';

const require = createRequire(import.meta.url);

/**
 * The tensorflow backend as the engine loads it (tfjs-node, with tfjs-hpo's GEMM kernels
 * when built) when it loads here, else pure-JS tfjs on the cpu backend.
 * HPO_TEST_BACKEND=cpu|wasm forces a pure-JS tfjs backend; TFJS_HPO_KERNELS=0 leaves
 * libtensorflow's own MatMul in place.
 */
export async function testTf(): Promise<{ tf: Tf; backend: string }> {
  let tf: Tf;
  const forced = process.env['HPO_TEST_BACKEND'];
  if (forced === 'cpu' || forced === 'wasm') {
    tf = require('@tensorflow/tfjs') as Tf;
    if (forced === 'wasm') require('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend(forced);
    await tf.ready();
    return { tf, backend: tf.getBackend() };
  }
  try {
    tf = (await loadBackend('tensorflow')).tf;
  } catch {
    tf = require('@tensorflow/tfjs') as Tf;
    await tf.setBackend('cpu');
  }
  await tf.ready();
  return { tf, backend: tf.getBackend() };
}

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

function idx(file: string, header: number, limit: number, rowBytes: number): Uint8Array {
  const buf = gunzipSync(readFileSync(`${FASHION_DIR}/${file}`));
  return new Uint8Array(buf.buffer, buf.byteOffset + header, Math.min(limit * rowBytes, buf.length - header));
}

/** The first nTrain / nTest Fashion-MNIST examples, or undefined if the files are absent. */
export function loadFashionSubset(nTrain: number, nTest: number): FashionData | undefined {
  if (!existsSync(`${FASHION_DIR}/train-images-idx3-ubyte.gz`)) return undefined;
  return {
    trainImages: idx('train-images-idx3-ubyte.gz', 16, nTrain, 784),
    trainLabels: idx('train-labels-idx1-ubyte.gz', 8, nTrain, 1),
    testImages: idx('t10k-images-idx3-ubyte.gz', 16, nTest, 784),
    testLabels: idx('t10k-labels-idx1-ubyte.gz', 8, nTest, 1),
  };
}

/**
 * Linearly separable synthetic "images": class k lights up pixel block k, plus noise,
 * from a fixed LCG so the data never changes.
 */
export function syntheticData(nTrain: number, nTest: number, seed = 1): FashionData {
  let s = seed >>> 0;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const make = (n: number): [Uint8Array, Uint8Array] => {
    const x = new Uint8Array(n * 784);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const k = Math.floor(rnd() * 10);
      y[i] = k;
      for (let j = 0; j < 784; j++) x[i * 784 + j] = Math.floor(rnd() * 100);
      for (let j = k * 78; j < k * 78 + 78; j++) x[i * 784 + j] = 155 + Math.floor(rnd() * 100);
    }
    return [x, y];
  };
  const [trainImages, trainLabels] = make(nTrain);
  const [testImages, testLabels] = make(nTest);
  return { trainImages, trainLabels, testImages, testLabels };
}

/**
 * `data` as the main thread shares Fashion-MNIST with its pool (SharedFashionMnist: each
 * array copied into a SharedArrayBuffer), for shareFashionDataset.
 */
export function sharedCopy(data: FashionData): SharedFashionMnist {
  const toShared = (a: Uint8Array): SharedArrayBuffer => {
    const s = new SharedArrayBuffer(a.length);
    new Uint8Array(s).set(a);
    return s;
  };
  return {
    trainImages: toShared(data.trainImages!),
    trainLabels: toShared(data.trainLabels),
    testImages: toShared(data.testImages!),
    testLabels: toShared(data.testLabels),
    nTrain: data.trainLabels.length,
    nTest: data.testLabels.length,
    dir: '-',
    source: 'flag',
  };
}
