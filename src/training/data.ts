import type * as tfTypes from '@tensorflow/tfjs';
import { DatasetError } from '../errors.js';

/** The TensorFlow.js namespace a trainer runs on (tfjs, tfjs-node or a wasm-backed tfjs). */
export type Tf = typeof tfTypes;

/**
 * Fashion-MNIST as raw bytes. The arrays are usually views on SharedArrayBuffers shared by
 * every worker thread; nothing here writes to them.
 */
export interface FashionData {
  /** nTrain * 784 bytes, row-major 28x28 images. */
  readonly trainImages: Uint8Array;
  /** nTrain class indices 0..9. */
  readonly trainLabels: Uint8Array;
  /** nTest * 784 bytes. */
  readonly testImages: Uint8Array;
  /** nTest class indices 0..9. */
  readonly testLabels: Uint8Array;
}

/** Number of pixels per image. */
export const PIXELS = 784;
export const CLASSES = 10;

/**
 * How the pixels sit on the backend.
 * - `flat1`: float32 [n, 785] in [0, 1] plus a constant 1 column, so a dense layer's bias
 *   is the last weight row and costs no op per step.
 * - `image`: float32 [n, 28, 28, 1] in [0, 1] (NHWC, for convolutions).
 */
export type Layout = 'flat1' | 'image';

/** Backend tensors for one (backend, data, layout, subset). Owned by the cache. */
export interface FashionTensors {
  readonly nTrain: number;
  readonly nTest: number;
  readonly trainX: tfTypes.Tensor;
  /** int32 [nTrain]. */
  readonly trainLabels: tfTypes.Tensor1D;
  /** float32 one-hot [nTrain, 10] (for gathering on the backend; the built-in steps upload
   * per-batch one-hot rows built from trainLabelBytes instead, which is cheaper). */
  readonly trainOneHot: tfTypes.Tensor2D;
  /** The training labels in JS (a view, not a copy): batches build their one-hot rows from it. */
  readonly trainLabelBytes: Uint8Array;
  readonly testX: tfTypes.Tensor;
  /** int32 [nTest]. */
  readonly testLabels: tfTypes.Tensor1D;
}

// tf namespace -> data -> "backend|layout|subset" -> tensors. Keyed by the namespace object
// because tfjs and tfjs-node are separate engines with separate tensor registries; the
// backend name is in the key because tensors belong to the backend that created them.
const cache = new WeakMap<object, WeakMap<FashionData, Map<string, FashionTensors>>>();

function check(data: FashionData): { nTrain: number; nTest: number } {
  const nTrain = data.trainLabels.length;
  const nTest = data.testLabels.length;
  if (data.trainImages.length !== nTrain * PIXELS) {
    throw new DatasetError(`training images hold ${data.trainImages.length} bytes, expected ${nTrain} x ${PIXELS}`);
  }
  if (data.testImages.length !== nTest * PIXELS) {
    throw new DatasetError(`test images hold ${data.testImages.length} bytes, expected ${nTest} x ${PIXELS}`);
  }
  if (nTrain === 0 || nTest === 0) throw new DatasetError('the dataset is empty');
  return { nTrain, nTest };
}

/** Bytes -> float32 in [0, 1], optionally with a trailing 1 per row. One pass, one copy. */
function pixels(tf: Tf, images: Uint8Array, n: number, layout: Layout): tfTypes.Tensor {
  if (layout === 'image') {
    const out = new Float32Array(n * PIXELS);
    for (let i = 0; i < out.length; i++) out[i] = images[i]! / 255;
    return tf.tensor4d(out, [n, 28, 28, 1], 'float32');
  }
  const w = PIXELS + 1;
  const out = new Float32Array(n * w);
  for (let r = 0; r < n; r++) {
    const src = r * PIXELS;
    const dst = r * w;
    for (let c = 0; c < PIXELS; c++) out[dst + c] = images[src + c]! / 255;
    out[dst + PIXELS] = 1;
  }
  return tf.tensor2d(out, [n, w], 'float32');
}

/**
 * The dataset as backend tensors, created once per (tf namespace, backend, data, layout,
 * trainSubset) and then reused by every trial of the worker. The training subset is the
 * first `trainSubset` images. The tensors are kept out of tf.tidy scopes; free them with
 * {@link releaseFashionTensors}.
 * @throws DatasetError if the arrays are inconsistent; RangeError for a bad subset size.
 */
export function fashionTensors(tf: Tf, data: FashionData, layout: Layout, trainSubset?: number): FashionTensors {
  const { nTrain: fullTrain, nTest } = check(data);
  let nTrain = fullTrain;
  if (trainSubset !== undefined) {
    if (!Number.isSafeInteger(trainSubset) || trainSubset < 1) throw new RangeError(`trainSubset must be a positive integer, got ${trainSubset}`);
    nTrain = Math.min(trainSubset, fullTrain);
  }
  let byData = cache.get(tf);
  if (!byData) cache.set(tf, (byData = new WeakMap()));
  let byKey = byData.get(data);
  if (!byKey) byData.set(data, (byKey = new Map()));
  const key = `${tf.getBackend()}|${layout}|${nTrain}`;
  const hit = byKey.get(key);
  if (hit) return hit;

  const trainLabelsI32 = Int32Array.from(data.trainLabels.subarray(0, nTrain));
  const oneHot = new Float32Array(nTrain * 10);
  for (let i = 0; i < nTrain; i++) {
    const l = trainLabelsI32[i]!;
    if (l < 0 || l > 9) throw new DatasetError(`training label ${i} is ${l}, expected 0..9`);
    oneHot[i * 10 + l] = 1;
  }
  const entry: FashionTensors = {
    nTrain,
    nTest,
    trainX: pixels(tf, data.trainImages.subarray(0, nTrain * PIXELS), nTrain, layout),
    trainLabels: tf.tensor1d(trainLabelsI32, 'int32'),
    trainOneHot: tf.tensor2d(oneHot, [nTrain, 10], 'float32'),
    trainLabelBytes: data.trainLabels.subarray(0, nTrain),
    testX: pixels(tf, data.testImages, nTest, layout),
    testLabels: tf.tensor1d(Int32Array.from(data.testLabels), 'int32'),
  };
  for (const t of tensorsOf(entry)) tf.keep(t);
  byKey.set(key, entry);
  return entry;
}

function tensorsOf(e: FashionTensors): tfTypes.Tensor[] {
  return [e.trainX, e.trainLabels, e.trainOneHot, e.testX, e.testLabels];
}

/** Dispose every cached tensor of `data` on this tf namespace (all backends, layouts, subsets). */
export function releaseFashionTensors(tf: Tf, data: FashionData): void {
  const byKey = cache.get(tf)?.get(data);
  if (!byKey) return;
  for (const e of byKey.values()) {
    for (const t of tensorsOf(e)) t.dispose();
  }
  byKey.clear();
}
