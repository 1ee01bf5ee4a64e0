/**
 * Main-thread side of the dataset decoding thread (worker/dataset-thread.ts): the main
 * thread allocates the float layouts (so it can align them for the backend), a thread
 * fills them and exits, taking its garbage with it.
 */
import { Worker } from 'node:worker_threads';
import { DatasetError } from '../errors.js';
import type { SharedLayout } from '../training/data.js';

/** workerData of the decoding thread. */
export interface DecodeRequest {
  /** A directory holding the four files (located or downloaded beforehand). */
  readonly dir: string;
  /** Allocated, unfilled layouts to convert the images into. */
  readonly layouts: readonly SharedLayout[];
}

/** What the decoding thread posts back. */
export type DecodeReply =
  | { readonly ok: true; readonly trainLabels: SharedArrayBuffer; readonly testLabels: SharedArrayBuffer }
  | { readonly ok: false; readonly message: string };

/**
 * Reads, verifies and converts the dataset in `dir` into `layouts` on a thread of its own;
 * resolves with the labels once the thread has exited.
 * @throws DatasetError when a file is missing, corrupt or not the published one
 */
export function decodeInThread(dir: string, layouts: readonly SharedLayout[]): Promise<{ trainLabels: SharedArrayBuffer; testLabels: SharedArrayBuffer }> {
  const request: DecodeRequest = { dir, layouts };
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./dataset-thread.js', import.meta.url), { workerData: request });
    let reply: DecodeReply | undefined;
    let failure: unknown;
    w.once('message', (m: DecodeReply) => (reply = m));
    w.once('error', (e) => (failure = e));
    w.once('exit', (code) => {
      if (reply?.ok) resolve({ trainLabels: reply.trainLabels, testLabels: reply.testLabels });
      else if (reply) reject(new DatasetError(reply.message));
      else reject(new DatasetError(`the dataset decoding thread exited (code ${code}) without a result${failure ? `: ${String(failure)}` : ''}`));
    });
  });
}
