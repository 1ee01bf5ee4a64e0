/**
 * Main-thread side of the dataset decoding thread (worker/dataset-thread.ts): the main
 * thread allocates the float layouts (so it can align them for the backend), a thread
 * fills them and exits, taking its garbage with it.
 */
import { Worker } from 'node:worker_threads';
import { DatasetError } from '../errors.js';
import type { SharedLayout } from '../training/data.js';

/** Where the decoding thread writes: buffers allocated (and aligned) by the caller. */
export interface DecodeTargets {
  /** Layouts to convert the images into. */
  readonly layouts: readonly SharedLayout[];
  /** nTrain / nTest bytes for the labels. */
  readonly trainLabels: SharedArrayBuffer;
  readonly testLabels: SharedArrayBuffer;
  /** Buffers for the uint8 images, when threads convert them themselves. */
  readonly images: { readonly train: SharedArrayBuffer; readonly test: SharedArrayBuffer } | null;
}

/** workerData of the decoding thread. */
export interface DecodeRequest extends DecodeTargets {
  /** A directory holding the four files (located or downloaded beforehand). */
  readonly dir: string;
}

/** What the decoding thread posts back. */
export type DecodeReply = { readonly ok: true } | { readonly ok: false; readonly message: string };

/**
 * Reads, verifies and converts the dataset in `dir` into `targets` on a thread of its own;
 * resolves once the thread has exited (its writes are then visible to every thread that
 * is handed work afterwards).
 * @throws DatasetError when a file is missing, corrupt or not the published one
 */
export function decodeInThread(dir: string, targets: DecodeTargets): Promise<void> {
  const request: DecodeRequest = { dir, ...targets };
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./dataset-thread.js', import.meta.url), { workerData: request });
    let reply: DecodeReply | undefined;
    let failure: unknown;
    w.once('message', (m: DecodeReply) => (reply = m));
    w.once('error', (e) => (failure = e));
    w.once('exit', (code) => {
      if (reply?.ok) resolve();
      else if (reply) reject(new DatasetError(reply.message));
      else reject(new DatasetError(`the dataset decoding thread exited (code ${code}) without a result${failure ? `: ${String(failure)}` : ''}`));
    });
  });
}
