/**
 * Entry of the short-lived thread that decodes Fashion-MNIST into the shared float
 * layouts (see worker/decode-dataset.ts). Decompressing and converting leaves about
 * 150 MB of dead buffers behind; in a thread of its own they vanish with its heap when it
 * exits instead of lingering in the main thread until some later garbage collection.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFashionFile } from '../data/fashion-mnist.js';
import { errorMessage } from '../errors.js';
import { fillSharedLayout } from '../training/data.js';
import type { DecodeReply, DecodeRequest } from './decode-dataset.js';

function toShared(bytes: Uint8Array): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(bytes.length);
  new Uint8Array(sab).set(bytes);
  return sab;
}

const req = workerData as DecodeRequest;
let reply: DecodeReply;
try {
  const trainLabels = toShared(readFashionFile(req.dir, 'trainLabels'));
  const testLabels = toShared(readFashionFile(req.dir, 'testLabels'));
  const train = readFashionFile(req.dir, 'trainImages');
  const test = readFashionFile(req.dir, 'testImages');
  for (const layout of req.layouts) fillSharedLayout(layout, train, test);
  reply = { ok: true, trainLabels, testLabels };
} catch (e) {
  reply = { ok: false, message: errorMessage(e) };
}
parentPort!.postMessage(reply);
