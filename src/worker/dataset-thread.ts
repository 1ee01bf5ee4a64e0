/**
 * Entry of the short-lived thread that decodes Fashion-MNIST into the shared float
 * layouts (see worker/decode-dataset.ts). The images are streamed (decompressed and
 * converted in 64 KiB chunks), and whatever garbage remains vanishes with this thread's
 * heap when it exits instead of lingering in the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFashionFile, streamFashionFile } from '../data/fashion-mnist.js';
import { errorMessage } from '../errors.js';
import { fillSharedLayoutBytes } from '../training/data.js';
import type { DecodeReply, DecodeRequest } from './decode-dataset.js';

function copyInto(target: SharedArrayBuffer, bytes: Uint8Array, what: string): void {
  if (target.byteLength !== bytes.length) throw new Error(`${what}: ${bytes.length} bytes for a buffer of ${target.byteLength}`);
  new Uint8Array(target).set(bytes);
}

const req = workerData as DecodeRequest;

async function decode(): Promise<void> {
  copyInto(req.trainLabels, readFashionFile(req.dir, 'trainLabels'), 'training labels');
  copyInto(req.testLabels, readFashionFile(req.dir, 'testLabels'), 'test labels');
  // The images are converted chunk by chunk as they are decompressed.
  for (const [key, set] of [['trainImages', 'train'], ['testImages', 'test']] as const) {
    const raw = req.images ? new Uint8Array(req.images[set]) : undefined;
    await streamFashionFile(req.dir, key, (bytes, offset) => {
      for (const layout of req.layouts) fillSharedLayoutBytes(layout, set, bytes, offset);
      raw?.set(bytes, offset);
    });
  }
}

let reply: DecodeReply;
try {
  await decode();
  reply = { ok: true };
} catch (e) {
  reply = { ok: false, message: errorMessage(e) };
}
parentPort!.postMessage(reply);
