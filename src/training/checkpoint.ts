/**
 * The byte format of a built-in model's checkpoint: its variables' float32 values with
 * their shapes. Plain SGD has no optimizer state, and the minibatch order and dropout
 * masks are derived from (trial seed, epoch), so the weights are the whole training state.
 *
 * Layout (little-endian): "HPW1", u32 count, then per tensor u32 rank and rank x u32 dims,
 * then every tensor's values as float32, in order.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { TrialError } from '../errors.js';
import type { Tf } from './data.js';

const MAGIC = 0x31575048; // "HPW1" read as a little-endian u32

export interface SavedTensor {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export function encodeTensors(tensors: readonly SavedTensor[]): Uint8Array {
  const headerWords = 2 + tensors.reduce((n, t) => n + 1 + t.shape.length, 0);
  const floats = tensors.reduce((n, t) => n + t.values.length, 0);
  const buf = new ArrayBuffer(4 * (headerWords + floats));
  const view = new DataView(buf);
  let o = 0;
  const u32 = (v: number): void => {
    view.setUint32(o, v, true);
    o += 4;
  };
  u32(MAGIC);
  u32(tensors.length);
  for (const t of tensors) {
    u32(t.shape.length);
    for (const d of t.shape) u32(d);
  }
  for (const t of tensors) {
    if (t.values.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error('bug: tensor values do not match its shape');
    for (let i = 0; i < t.values.length; i++) view.setFloat32(o + 4 * i, t.values[i]!, true);
    o += 4 * t.values.length;
  }
  return new Uint8Array(buf);
}

/**
 * Decode a checkpoint and check it against the shapes expected.
 * @throws TrialError when it is not a checkpoint of this format or the shapes differ.
 */
export function decodeTensors(data: Uint8Array, expected: readonly (readonly number[])[]): Float32Array[] {
  const bad = (why: string): TrialError => new TrialError(`cannot resume from the checkpoint: ${why}`);
  if (data.byteLength < 8 || data.byteLength % 4 !== 0) throw bad('not a model checkpoint');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  const u32 = (): number => {
    if (o + 4 > data.byteLength) throw bad('truncated');
    const v = view.getUint32(o, true);
    o += 4;
    return v;
  };
  if (u32() !== MAGIC) throw bad('not a model checkpoint');
  const n = u32();
  if (n !== expected.length) throw bad(`${n} tensors, the model has ${expected.length}`);
  const shapes: number[][] = [];
  for (let i = 0; i < n; i++) {
    const rank = u32();
    if (rank > 8) throw bad('corrupt header');
    const shape: number[] = [];
    for (let r = 0; r < rank; r++) shape.push(u32());
    if (shape.join('x') !== expected[i]!.join('x')) throw bad(`tensor ${i} has shape [${shape}], the model's is [${expected[i]}]`);
    shapes.push(shape);
  }
  const out: Float32Array[] = [];
  for (const shape of shapes) {
    const len = shape.reduce((a, b) => a * b, 1);
    if (o + 4 * len > data.byteLength) throw bad('truncated');
    const v = new Float32Array(len);
    for (let i = 0; i < len; i++) v[i] = view.getFloat32(o + 4 * i, true);
    o += 4 * len;
    out.push(v);
  }
  if (o !== data.byteLength) throw bad('trailing bytes');
  return out;
}

/** A checkpoint of `tensors` (variables, or tensors shaped as a model's variables), in order. One dataSync each. */
export function encodeVariables(tensors: readonly tfTypes.Tensor[]): Uint8Array {
  return encodeTensors(tensors.map((v) => ({ shape: v.shape, values: v.dataSync() as Float32Array })));
}

/**
 * Set `vars` to the values of a checkpoint of variables of the same shapes, in the same order.
 * @throws TrialError when `data` is not such a checkpoint (the variables are then unchanged).
 */
export function loadVariables(tf: Tf, vars: readonly tfTypes.Variable[], data: Uint8Array): void {
  const values = decodeTensors(data, vars.map((v) => v.shape));
  vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(values[i]!, v.shape, 'float32'))));
}
