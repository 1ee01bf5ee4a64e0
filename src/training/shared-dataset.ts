/**
 * The dataset as worker threads receive it: labels as bytes, the pixels already converted
 * to the float layouts the study's model reads, once per process, in shared memory. The
 * uint8 images are passed on only when some layout was not built, so the process keeps a
 * single copy of the pixels (issue 8: one copy of the data per process).
 */
import { FASHION_FILES, readFashionFile, streamFashionFile, type SharedFashionMnist } from '../data/fashion-mnist.js';
import { DatasetError } from '../errors.js';
import { zeroCopyOffset, type BackendName } from './backend.js';
import { hpoKernels } from './hpo-kernels.js';
import { allocateSharedLayout, buildSharedLayout, fillSharedLayoutBytes, LAYOUT_ALIGN_BYTES, PIXELS, type FashionData, type Layout, type SharedLayout, type SharedLayouts } from './data.js';

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

/**
 * Whether the training images stay bytes (a quarter of the float layout: 47 MB instead of
 * 188 MB for Fashion-MNIST), gathered per batch by tfjs-hpo's HpoGather op: on the
 * tensorflow backend when its kernels are loaded in this (the main) thread.
 */
function trainAsBytes(backend: BackendName): boolean {
  return backend === 'tensorflow' && hpoKernels() !== undefined;
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
  for (const layout of new Set(layouts)) built[layout] = buildSharedLayout(train, test, layout, a.align, trainAsBytes(backend));
  return {
    trainLabels: dataset.trainLabels,
    testLabels: dataset.testLabels,
    images: layouts.length === 0 ? { train: dataset.trainImages, test: dataset.testImages } : null,
    layouts: built,
    zeroCopy: layouts.length > 0 && a.zeroCopy(),
  };
}

/** A dataset whose shared memory exists before its contents: see {@link allocateSharedFashion}. */
export interface PendingFashion {
  /** What pool threads get; its buffers are filled by {@link PendingFashion.fill}. */
  readonly dataset: ThreadDataset;
  /**
   * Reads, verifies and converts the files of `dir` into the buffers, streaming them, so
   * this process never holds the uint8 images or whole decompression buffers.
   * Nothing may train on the dataset before this resolves.
   * @throws DatasetError when a file is missing, corrupt or not the published one
   */
  fill(dir: string): Promise<void>;
}

/**
 * Allocates the shared buffers of Fashion-MNIST (labels and the float `layouts`, aligned
 * for `backend` as in {@link shareFashionDataset}) without reading anything yet, so pool
 * threads can start warming up on them while the files are decoded.
 *
 * With no layouts (user-registered models without a `layout`) the uint8 images are
 * shared instead and each thread converts them itself.
 */
export function allocateSharedFashion(layouts: readonly Layout[], backend: BackendName): PendingFashion {
  const nTrain = FASHION_FILES.trainLabels.count;
  const nTest = FASHION_FILES.testLabels.count;
  const a = aligner(backend);
  const built: { -readonly [L in Layout]?: SharedLayouts[L] } = {};
  for (const layout of new Set(layouts)) built[layout] = allocateSharedLayout(layout, nTrain, nTest, a.align, trainAsBytes(backend));
  const images = layouts.length === 0 ? { train: new SharedArrayBuffer(nTrain * PIXELS), test: new SharedArrayBuffer(nTest * PIXELS) } : null;
  // Every byte of these is written by fill(): map their pages in one call each rather than
  // one fault per 4 KiB page as the decoder reaches them (about 14 us a fault on the VMs we
  // measure on: filling 64 MB took 200 ms, or 14 + 101 ms prefaulted).
  const kernels = backend === 'tensorflow' ? hpoKernels() : undefined;
  for (const b of [...Object.values(built).map((l) => l.buffer), ...(images ? [images.train, images.test] : [])]) kernels?.prefault(new Uint8Array(b));
  const dataset: ThreadDataset = {
    trainLabels: new SharedArrayBuffer(nTrain),
    testLabels: new SharedArrayBuffer(nTest),
    images,
    layouts: built,
    zeroCopy: layouts.length > 0 && a.zeroCopy(),
  };
  return {
    dataset,
    fill: (dir) =>
      decodeInto(dir, {
        layouts: Object.values(built),
        trainLabels: dataset.trainLabels,
        testLabels: dataset.testLabels,
        images,
      }),
  };
}

/**
 * {@link allocateSharedFashion} and its fill in one step.
 * @throws DatasetError when a file is missing, corrupt or not the published one
 */
export async function loadSharedFashion(dir: string, layouts: readonly Layout[], backend: BackendName): Promise<ThreadDataset> {
  const pending = allocateSharedFashion(layouts, backend);
  await pending.fill(dir);
  return pending.dataset;
}

/**
 * How worker threads on `backend` hold the dataset's pixels: `shared`, one float32 copy
 * per process that every thread reads in place (tfjs-node when libtensorflow accepts the
 * aligned shared memory, which is probed here; cpu), or `per-thread`, each thread's own
 * copy (wasm, or a libtensorflow that copies anyway). For `hpo info`; on tensorflow the
 * addon must be loaded in this thread.
 */
export function datasetSharing(backend: BackendName): 'shared' | 'shared-bytes' | 'per-thread' {
  if (backend === 'cpu') return 'shared';
  if (backend === 'wasm') return 'per-thread';
  if (zeroCopyOffset(new SharedArrayBuffer(LAYOUT_ALIGN_BYTES + 4096), LAYOUT_ALIGN_BYTES) === undefined) return 'per-thread';
  return trainAsBytes(backend) ? 'shared-bytes' : 'shared';
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

/** Where {@link decodeInto} writes: buffers allocated (and aligned) beforehand. */
interface DecodeTargets {
  readonly layouts: readonly SharedLayout[];
  readonly trainLabels: SharedArrayBuffer;
  readonly testLabels: SharedArrayBuffer;
  /** Buffers for the uint8 images, when threads convert them themselves. */
  readonly images: { readonly train: SharedArrayBuffer; readonly test: SharedArrayBuffer } | null;
}

/**
 * Reads, verifies and converts the files of `dir` into `targets`. The images are streamed
 * (decompressed and converted in 64 KiB chunks), so no whole-file buffer exists at any
 * point; the small chunks die young and are collected at once. (Decoding on a thread of
 * its own was tried: its malloc arena kept 10-25 MB resident for the rest of the run.)
 */
async function decodeInto(dir: string, targets: DecodeTargets): Promise<void> {
  const copyInto = (target: SharedArrayBuffer, bytes: Uint8Array, what: string): void => {
    if (target.byteLength !== bytes.length) throw new DatasetError(`${dir}: ${what} hold ${bytes.length} bytes, expected ${target.byteLength}`);
    new Uint8Array(target).set(bytes);
  };
  copyInto(targets.trainLabels, readFashionFile(dir, 'trainLabels'), 'training labels');
  copyInto(targets.testLabels, readFashionFile(dir, 'testLabels'), 'test labels');
  for (const [key, set] of [['trainImages', 'train'], ['testImages', 'test']] as const) {
    const raw = targets.images ? new Uint8Array(targets.images[set]) : undefined;
    await streamFashionFile(dir, key, (bytes, offset) => {
      for (const layout of targets.layouts) fillSharedLayoutBytes(layout, set, bytes, offset);
      raw?.set(bytes, offset);
    });
  }
}
