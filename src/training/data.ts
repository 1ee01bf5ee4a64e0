import type * as tfTypes from '@tensorflow/tfjs';
import { DatasetError } from '../errors.js';
import { hpoKernels } from './hpo-kernels.js';
import { NO_ATTRS, type Handle, type NativeOps } from './native-ops.js';

/**
 * The TensorFlow.js namespace a trainer runs on (tfjs, tfjs-node or a wasm-backed tfjs).
 * In pool threads on tfjs-node it is tfjs-core's namespace (training/backend.ts, `lean`):
 * trainers call `tf.*` functions only, never chained tensor methods like `x.sum()`, and
 * take no gradients through autograd (`tf.variableGrads`, optimizers): only the whole tfjs
 * bundle installs those methods and registers the gradient functions. The `lean` steps
 * need neither; `autograd` steps are for tests and benchmarks on the whole bundle.
 */
export type Tf = typeof tfTypes;

/**
 * Fashion-MNIST as the trainers see it. The arrays are usually views on SharedArrayBuffers
 * shared by every worker thread; nothing here writes to them.
 */
export interface FashionData {
  /** nTrain * 784 bytes, row-major 28x28 images. Not needed for a layout in `shared`. */
  readonly trainImages?: Uint8Array | undefined;
  /** nTrain class indices 0..9. */
  readonly trainLabels: Uint8Array;
  /** nTest * 784 bytes. Not needed for a layout in `shared`. */
  readonly testImages?: Uint8Array | undefined;
  /** nTest class indices 0..9. */
  readonly testLabels: Uint8Array;
  /**
   * Float layouts built once per process ({@link buildSharedLayout}): the tensors of a
   * layout found here are views on it (no copy on tfjs-node and cpu); other layouts are
   * converted from the bytes in each thread.
   */
  readonly shared?: SharedLayouts | undefined;
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
  /**
   * The training pixels in the layout, or null when they are kept as bytes (a shared
   * layout with `trainBytes`): read them through {@link gatherTrain} either way.
   */
  readonly trainX: tfTypes.Tensor | null;
  /**
   * Pixels of the training rows `idx` (int32 [n] or [K, n]) in the layout, shaped
   * [...idx.shape, ...row shape]. Call inside tf.tidy.
   */
  gatherTrain(idx: tfTypes.Tensor): tfTypes.Tensor;
  /** The same on raw eager handles (tensorflow backend); the caller frees the result. */
  gatherTrainNative(ops: NativeOps, idx: Handle): Handle;
  /**
   * When the training images are kept as bytes: the int32 scalar naming them to tfjs-hpo's
   * ops (HpoGather*, HpoSoftmaxSgdEpoch), which read the rows themselves. Owned by the cache.
   */
  readonly trainSource: tfTypes.Tensor | null;
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
  /**
   * Test rows [start, start + size) of testX, for evaluating in chunks. On a shared layout
   * (tfjs-node, cpu) this is a tensor over the shared memory, made once per range and kept
   * with the dataset tensors: libtensorflow 1.15's Slice copies its output (15.7 MB for
   * 5000 flat rows), and those copies pile up in each thread's malloc arena. Otherwise it
   * is tf.slice(testX), owned by the caller's tf.tidy. Never dispose it yourself.
   */
  testRows(start: number, size: number): tfTypes.Tensor;
}

/**
 * One float32 layout of the whole dataset in shared memory: the training rows at
 * `trainOffset`, the test rows at `testOffset` (bytes). Built once per process by
 * {@link buildSharedLayout}; every thread wraps it without converting anything.
 */
export interface SharedLayout {
  readonly layout: Layout;
  /**
   * The training rows are kept as the original bytes (nTrain x 784 uint8 at trainOffset),
   * a quarter of the float layout, and converted per batch by tfjs-hpo's gather op
   * (src/native, tensorflow backend only). The test rows stay float32.
   */
  readonly trainBytes: boolean;
  readonly buffer: SharedArrayBuffer;
  readonly trainOffset: number;
  readonly testOffset: number;
  readonly nTrain: number;
  readonly nTest: number;
}

/** Shared float layouts by name (usually just the one the study's model reads). */
export type SharedLayouts = { readonly [L in Layout]?: SharedLayout };

/**
 * Row counts that keep test chunks aligned: 16 rows of any layout are a multiple of
 * {@link LAYOUT_ALIGN_BYTES}, so chunks of a multiple of 16 rows all start where
 * libtensorflow reads them in place (see FashionTensors.testRows).
 */
export const TEST_ROW_ALIGN = 16;

/** Floats per row of a layout. */
export function rowWidth(layout: Layout): number {
  return layout === 'flat1' ? PIXELS + 1 : PIXELS;
}

/**
 * Slack bytes allocated in front of a shared layout, so that its start can be moved to an
 * address the backend accepts without copying (libtensorflow copies any buffer that is not
 * aligned to its Eigen alignment, at most 64 bytes; see training/backend.ts).
 */
export const LAYOUT_ALIGN_BYTES = 64;

/**
 * Bytes -> float32 in [0, 1] (`flat1`: plus a trailing 1 per row) into `out`. One pass;
 * the arithmetic is the same whichever path calls it, so shared and per-thread copies are
 * bit-identical.
 */
function fillPixels(out: Float32Array, images: Uint8Array, n: number, layout: Layout): void {
  if (layout === 'image') {
    for (let i = 0; i < n * PIXELS; i++) out[i] = images[i]! / 255;
    return;
  }
  const w = PIXELS + 1;
  for (let r = 0; r < n; r++) {
    const src = r * PIXELS;
    const dst = r * w;
    for (let c = 0; c < PIXELS; c++) out[dst + c] = images[src + c]! / 255;
    out[dst + PIXELS] = 1;
  }
}

/**
 * Allocates one SharedArrayBuffer for `layout` of nTrain + nTest rows, not yet filled (see
 * {@link fillSharedLayout}). Untouched pages cost no memory until they are written.
 *
 * @param alignOffset picks the byte offset (a multiple of 4, below
 *   {@link LAYOUT_ALIGN_BYTES}) at which the backend reads the buffer without copying it;
 *   called before anything is written, and free to write into the buffer. Default 0.
 * @throws RangeError for empty sets or a bad offset
 */
export function allocateSharedLayout(
  layout: Layout,
  nTrain: number,
  nTest: number,
  alignOffset: (buffer: SharedArrayBuffer) => number = () => 0,
  trainBytes = false,
): SharedLayout {
  if (!Number.isSafeInteger(nTrain) || !Number.isSafeInteger(nTest) || nTrain < 1 || nTest < 1) {
    throw new RangeError(`a shared layout needs at least one training and one test row, got ${nTrain} and ${nTest}`);
  }
  const w = rowWidth(layout);
  // The test rows start a multiple of LAYOUT_ALIGN_BYTES after the training rows, so they
  // are as aligned as the start.
  const trainSize = Math.ceil((trainBytes ? nTrain * PIXELS : nTrain * w * 4) / LAYOUT_ALIGN_BYTES) * LAYOUT_ALIGN_BYTES;
  const buffer = new SharedArrayBuffer(LAYOUT_ALIGN_BYTES + trainSize + nTest * w * 4);
  const offset = alignOffset(buffer);
  if (!Number.isInteger(offset) || offset < 0 || offset >= LAYOUT_ALIGN_BYTES || offset % 4 !== 0) {
    throw new RangeError(`alignOffset must return a multiple of 4 in [0, ${LAYOUT_ALIGN_BYTES}), got ${offset}`);
  }
  return { layout, trainBytes, buffer, trainOffset: offset, testOffset: offset + trainSize, nTrain, nTest };
}

/**
 * Converts the images into an allocated layout (once per process; every thread then reads it).
 * @throws DatasetError if the arrays do not hold the layout's nTrain / nTest images
 */
export function fillSharedLayout(shared: SharedLayout, trainImages: Uint8Array, testImages: Uint8Array): void {
  if (trainImages.length !== shared.nTrain * PIXELS || testImages.length !== shared.nTest * PIXELS) {
    throw new DatasetError(
      `image arrays of ${trainImages.length} and ${testImages.length} bytes do not hold ${shared.nTrain} + ${shared.nTest} images of ${PIXELS} pixels`,
    );
  }
  const w = rowWidth(shared.layout);
  if (shared.trainBytes) new Uint8Array(shared.buffer, shared.trainOffset, trainImages.length).set(trainImages);
  else fillPixels(new Float32Array(shared.buffer, shared.trainOffset, shared.nTrain * w), trainImages, shared.nTrain, shared.layout);
  fillPixels(new Float32Array(shared.buffer, shared.testOffset, shared.nTest * w), testImages, shared.nTest, shared.layout);
}

/**
 * Converts a run of image bytes, starting at pixel `offset` of the training or test set,
 * into an allocated layout: the streaming form of {@link fillSharedLayout} (same
 * arithmetic, same result), for bytes that arrive in chunks as a file is decompressed.
 * @throws RangeError when the bytes run past the set
 */
export function fillSharedLayoutBytes(shared: SharedLayout, set: 'train' | 'test', bytes: Uint8Array, offset: number): void {
  const n = set === 'train' ? shared.nTrain : shared.nTest;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + bytes.length > n * PIXELS) {
    throw new RangeError(`pixels [${offset}, ${offset + bytes.length}) are outside the ${n} ${set} images`);
  }
  if (set === 'train' && shared.trainBytes) {
    new Uint8Array(shared.buffer, shared.trainOffset + offset, bytes.length).set(bytes);
    return;
  }
  const w = rowWidth(shared.layout);
  const out = new Float32Array(shared.buffer, set === 'train' ? shared.trainOffset : shared.testOffset, n * w);
  if (shared.layout === 'image') {
    for (let i = 0; i < bytes.length; i++) out[offset + i] = bytes[i]! / 255;
    return;
  }
  let row = Math.floor(offset / PIXELS);
  let col = offset - row * PIXELS;
  let dst = row * w + col;
  for (let i = 0; i < bytes.length; i++) {
    out[dst++] = bytes[i]! / 255;
    if (++col === PIXELS) {
      out[dst++] = 1;
      col = 0;
      row++;
    }
  }
}

/**
 * {@link allocateSharedLayout} and {@link fillSharedLayout} in one go, from images at hand.
 * @throws DatasetError if the image arrays do not hold whole images
 */
export function buildSharedLayout(
  trainImages: Uint8Array,
  testImages: Uint8Array,
  layout: Layout,
  alignOffset?: (buffer: SharedArrayBuffer) => number,
  trainBytes = false,
): SharedLayout {
  if (trainImages.length % PIXELS !== 0 || testImages.length % PIXELS !== 0 || trainImages.length === 0 || testImages.length === 0) {
    throw new DatasetError(`image arrays of ${trainImages.length} and ${testImages.length} bytes do not hold whole ${PIXELS}-pixel images`);
  }
  const shared = allocateSharedLayout(layout, trainImages.length / PIXELS, testImages.length / PIXELS, alignOffset, trainBytes);
  fillSharedLayout(shared, trainImages, testImages);
  return shared;
}

// tf namespace -> data -> "backend|layout|subset" -> tensors. Keyed by the namespace object
// because tfjs and tfjs-node are separate engines with separate tensor registries; the
// backend name is in the key because tensors belong to the backend that created them.
const cache = new WeakMap<object, WeakMap<FashionData, Map<string, FashionTensors>>>();

function shapeOf(layout: Layout, n: number): number[] {
  return layout === 'image' ? [n, 28, 28, 1] : [n, PIXELS + 1];
}

/** Sizes, checked against every array the layout will be read from. */
function check(data: FashionData, layout: Layout): { nTrain: number; nTest: number; shared: SharedLayout | undefined } {
  const nTrain = data.trainLabels.length;
  const nTest = data.testLabels.length;
  if (nTrain === 0 || nTest === 0) throw new DatasetError('the dataset is empty');
  const shared = data.shared?.[layout];
  if (shared) {
    if (shared.layout !== layout || shared.nTrain !== nTrain || shared.nTest !== nTest) {
      throw new DatasetError(`shared ${shared.layout} layout holds ${shared.nTrain} + ${shared.nTest} rows, expected ${layout} with ${nTrain} + ${nTest}`);
    }
    return { nTrain, nTest, shared };
  }
  if (!data.trainImages || !data.testImages) {
    throw new DatasetError(`no ${layout} layout was shared and the images are not available to build one`);
  }
  if (data.trainImages.length !== nTrain * PIXELS) {
    throw new DatasetError(`training images hold ${data.trainImages.length} bytes, expected ${nTrain} x ${PIXELS}`);
  }
  if (data.testImages.length !== nTest * PIXELS) {
    throw new DatasetError(`test images hold ${data.testImages.length} bytes, expected ${nTest} x ${PIXELS}`);
  }
  return { nTrain, nTest, shared: undefined };
}

/** Backend tensor over n rows of a shared layout from byte `offset`: a view, never a conversion. */
function sharedPixels(tf: Tf, s: SharedLayout, offset: number, n: number): tfTypes.Tensor {
  const view = new Float32Array(s.buffer, offset, n * rowWidth(s.layout));
  return tf.tensor(view, shapeOf(s.layout, n), 'float32');
}

/** The per-thread path: convert the bytes into a fresh Float32Array the backend takes over. */
function copiedPixels(tf: Tf, images: Uint8Array, n: number, layout: Layout): tfTypes.Tensor {
  const out = new Float32Array(n * rowWidth(layout));
  fillPixels(out, images, n, layout);
  return tf.tensor(out, shapeOf(layout, n), 'float32');
}

/**
 * The dataset as backend tensors, created once per (tf namespace, backend, data, layout,
 * trainSubset) and then reused by every trial of the worker. The training subset is the
 * first `trainSubset` images. When `data.shared` has the layout, the pixel tensors are
 * views on that shared memory; otherwise they are converted here. The tensors are kept
 * out of tf.tidy scopes; free them with {@link releaseFashionTensors}.
 * @throws DatasetError if the arrays are inconsistent; RangeError for a bad subset size.
 */
export function fashionTensors(tf: Tf, data: FashionData, layout: Layout, trainSubset?: number): FashionTensors {
  const { nTrain: fullTrain, nTest, shared } = check(data, layout);
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
  const testX = shared ? sharedPixels(tf, shared, shared.testOffset, nTest) : copiedPixels(tf, data.testImages!, nTest, layout);
  const trainX = shared?.trainBytes ? null : shared ? sharedPixels(tf, shared, shared.trainOffset, nTrain) : copiedPixels(tf, data.trainImages!.subarray(0, nTrain * PIXELS), nTrain, layout);
  const gather = trainGather(tf, trainX, shared, nTrain, layout);
  const rowViews = new Map<string, tfTypes.Tensor>();
  // wasm copies every tensor into its own heap: there a view would be one more copy.
  const views = shared !== undefined && tf.getBackend() !== 'wasm';
  const entry: FashionTensors = {
    nTrain,
    nTest,
    trainX,
    gatherTrain: gather.tfjs,
    gatherTrainNative: gather.native,
    trainSource: gather.source ?? null,
    trainLabels: tf.tensor1d(trainLabelsI32, 'int32'),
    trainOneHot: tf.tensor2d(oneHot, [nTrain, 10], 'float32'),
    trainLabelBytes: data.trainLabels.subarray(0, nTrain),
    testX,
    testLabels: tf.tensor1d(Int32Array.from(data.testLabels), 'int32'),
    testRows(start: number, size: number): tfTypes.Tensor {
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size) || start < 0 || size < 1 || start + size > nTest) {
        throw new RangeError(`test rows [${start}, ${start + size}) are outside [0, ${nTest})`);
      }
      // A view that does not start on an aligned address would be copied by libtensorflow
      // and kept: slice instead (a transient copy). See TEST_ROW_ALIGN.
      if (!views || (start * rowWidth(layout) * 4) % LAYOUT_ALIGN_BYTES !== 0) return tf.slice(testX, start, size);
      const k = `${start}:${size}`;
      let t = rowViews.get(k);
      if (!t) rowViews.set(k, (t = tf.keep(sharedPixels(tf, shared, shared.testOffset + start * rowWidth(layout) * 4, size))));
      return t;
    },
  };
  for (const t of tensorsOf(entry)) tf.keep(t);
  rowViewsOf.set(entry, rowViews);
  if (gather.source) extraTensorsOf.set(entry, [tf.keep(gather.source)]);
  byKey.set(key, entry);
  return entry;
}

/** The test-row views each entry made (see FashionTensors.testRows), for disposal. */
const rowViewsOf = new WeakMap<FashionTensors, Map<string, tfTypes.Tensor>>();
/** Other tensors an entry owns (the pixel source id of a bytes layout). */
const extraTensorsOf = new WeakMap<FashionTensors, tfTypes.Tensor[]>();

function tensorsOf(e: FashionTensors): tfTypes.Tensor[] {
  return [...(e.trainX ? [e.trainX] : []), e.trainLabels, e.trainOneHot, e.testX, e.testLabels, ...(rowViewsOf.get(e)?.values() ?? []), ...(extraTensorsOf.get(e) ?? [])];
}

interface GatherBackend {
  executeSingleOutput(name: string, attrs: readonly unknown[], inputs: readonly tfTypes.Tensor[]): tfTypes.Tensor;
}

/**
 * How training rows are read: GatherV2 on the float pixels, or, for a bytes layout,
 * tfjs-hpo's HpoGather op on the shared bytes (registered once per thread; the id is an
 * int32 scalar input of the op).
 */
function trainGather(
  tf: Tf,
  trainX: tfTypes.Tensor | null,
  shared: SharedLayout | undefined,
  nTrain: number,
  layout: Layout,
): { tfjs: (idx: tfTypes.Tensor) => tfTypes.Tensor; native: (ops: NativeOps, idx: Handle) => Handle; source?: tfTypes.Tensor } {
  if (trainX) {
    const gatherAttrs = new WeakMap<NativeOps, readonly ReturnType<NativeOps['typeAttr']>[]>();
    return {
      tfjs: (idx) => tf.gather(trainX, idx),
      native: (ops, idx) => {
        let attrs = gatherAttrs.get(ops);
        if (!attrs) gatherAttrs.set(ops, (attrs = [ops.typeAttr('Tparams', 'float32'), ops.typeAttr('Tindices', 'int32'), ops.typeAttr('Taxis', 'int32')]));
        return ops.run('GatherV2', attrs, [ops.id(trainX), idx, ops.ints([0], [])]);
      },
    };
  }
  const kernels = hpoKernels();
  if (!kernels || tf.getBackend() !== 'tensorflow') {
    throw new DatasetError('the training images are shared as bytes, which only the tensorflow backend with tfjs-hpo kernels reads');
  }
  const s = shared!;
  const id = kernels.registerPixels(new Uint8Array(s.buffer, s.trainOffset, nTrain * PIXELS));
  const source = tf.scalar(id, 'int32');
  const op = layout === 'flat1' ? 'HpoGatherFlat1' : 'HpoGatherImage';
  return {
    tfjs: (idx) => (tf.backend() as unknown as GatherBackend).executeSingleOutput(op, NO_ATTRS, [source, idx]),
    native: (ops, idx) => ops.run(op, NO_ATTRS, [ops.id(source), idx]),
    source,
  };
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
