/**
 * The dataset as worker threads receive it: labels as bytes, the pixels already converted
 * to the float layouts the study's model reads, once per process, in shared memory. The
 * uint8 images are passed on only when some layout was not built, so the process keeps a
 * single copy of the pixels (issue 8: one copy of the data per process).
 */
import { FASHION_FILES, loadFashionMnistDir, type SharedFashionMnist } from '../data/fashion-mnist.js';
import { decodeInThread } from '../worker/decode-dataset.js';
import { zeroCopyOffset, type BackendName } from './backend.js';
import { allocateSharedLayout, buildSharedLayout, LAYOUT_ALIGN_BYTES, type FashionData, type Layout, type SharedLayouts } from './data.js';

/** What a pool thread gets (structured-cloned: the SharedArrayBuffers are shared, not copied). */
export interface ThreadDataset {
  readonly trainLabels: SharedArrayBuffer;
  readonly testLabels: SharedArrayBuffer;
  /** The uint8 images, only when a layout a trainer may ask for is not in `layouts`. */
  readonly images: { readonly train: SharedArrayBuffer; readonly test: SharedArrayBuffer } | null;
  readonly layouts: SharedLayouts;
  /** Whether the backend reads `layouts` in place (false: each thread copies them). */
  readonly zeroCopy: boolean;
}

/** Picks each layout's start for `backend`; records whether it will be read in place. */
function aligner(backend: BackendName): { align: (buffer: SharedArrayBuffer) => number; zeroCopy: () => boolean } {
  let zeroCopy = backend === 'cpu';
  return {
    align: (buffer) => {
      if (backend !== 'tensorflow') return 0;
      const offset = zeroCopyOffset(buffer, LAYOUT_ALIGN_BYTES);
      zeroCopy = offset !== undefined;
      return offset ?? 0;
    },
    zeroCopy: () => zeroCopy,
  };
}

/**
 * Builds `layouts` of an already decoded `dataset` once, aligned so that `backend` reads
 * them in place where it can: tfjs-node wraps aligned memory without copying (see
 * {@link zeroCopyOffset}, which needs the addon loaded in this thread), the cpu backend
 * keeps the arrays it is given, wasm copies into each thread's heap whatever we do.
 *
 * @param layouts the layouts the trainers will read; none means every thread converts the
 *   images itself (user-registered models without a `layout`)
 */
export function shareFashionDataset(dataset: SharedFashionMnist, layouts: readonly Layout[], backend: BackendName): ThreadDataset {
  const train = new Uint8Array(dataset.trainImages);
  const test = new Uint8Array(dataset.testImages);
  const a = aligner(backend);
  const built: { -readonly [L in Layout]?: SharedLayouts[L] } = {};
  for (const layout of new Set(layouts)) built[layout] = buildSharedLayout(train, test, layout, a.align);
  return {
    trainLabels: dataset.trainLabels,
    testLabels: dataset.testLabels,
    images: layouts.length === 0 ? { train: dataset.trainImages, test: dataset.testImages } : null,
    layouts: built,
    zeroCopy: layouts.length > 0 && a.zeroCopy(),
  };
}

/**
 * Reads Fashion-MNIST from `dir` straight into `layouts` (see {@link shareFashionDataset}):
 * the files are decoded on a short-lived thread, so this process never holds the uint8
 * images or the decompression buffers, only the float layouts and the labels.
 * @throws DatasetError when a file is missing, corrupt or not the published one
 */
export async function loadSharedFashion(dir: string, layouts: readonly Layout[], backend: BackendName): Promise<ThreadDataset> {
  if (layouts.length === 0) return shareFashionDataset(loadFashionMnistDir(dir, 'flag'), [], backend);
  const a = aligner(backend);
  const built: { -readonly [L in Layout]?: SharedLayouts[L] } = {};
  for (const layout of new Set(layouts)) {
    built[layout] = allocateSharedLayout(layout, FASHION_FILES.trainLabels.count, FASHION_FILES.testLabels.count, a.align);
  }
  const labels = await decodeInThread(dir, Object.values(built));
  return { ...labels, images: null, layouts: built, zeroCopy: a.zeroCopy() };
}

/** The thread-side views of a {@link ThreadDataset} (no copies). */
export function fashionDataOf(d: ThreadDataset): FashionData {
  return {
    trainLabels: new Uint8Array(d.trainLabels),
    testLabels: new Uint8Array(d.testLabels),
    trainImages: d.images ? new Uint8Array(d.images.train) : undefined,
    testImages: d.images ? new Uint8Array(d.images.test) : undefined,
    shared: d.layouts,
  };
}
