import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrialError } from '../../src/errors.js';
import { decodeTensors, encodeTensors } from '../../src/training/checkpoint.js';

describe('model checkpoint bytes', () => {
  const tensors = [
    { shape: [3, 2], values: Float32Array.from([1, -2, 3.5, Number.MIN_VALUE, 1e-30, -0]) },
    { shape: [4], values: Float32Array.from([0.1, 0.2, 0.3, 0.4]) },
    { shape: [], values: Float32Array.from([7]) },
  ];
  it('round-trips float32 values bit for bit', () => {
    const bytes = encodeTensors(tensors);
    const back = decodeTensors(bytes, tensors.map((t) => t.shape));
    assert.equal(back.length, 3);
    back.forEach((v, i) => assert.deepEqual(new Uint8Array(v.buffer), new Uint8Array(tensors[i]!.values.buffer)));
  });

  const bad: [string, (b: Uint8Array) => Uint8Array, readonly (readonly number[])[]][] = [
    ['another model (shape)', (b) => b, [[2, 3], [4], []]],
    ['another model (count)', (b) => b, [[3, 2], [4]]],
    ['truncated', (b) => b.subarray(0, b.length - 4), [[3, 2], [4], []]],
    ['trailing bytes', (b) => Uint8Array.from([...b, 0, 0, 0, 0]), [[3, 2], [4], []]],
    ['not a checkpoint', (b) => Uint8Array.from(b.map((x, i) => (i < 4 ? 0 : x))), [[3, 2], [4], []]],
    ['a user checkpoint', () => new TextEncoder().encode('{"w":1}x'), [[3, 2], [4], []]],
  ];
  for (const [name, mangle, shapes] of bad) {
    it(`refuses ${name} with a TrialError`, () => {
      assert.throws(() => decodeTensors(mangle(encodeTensors(tensors)), shapes), (e: unknown) => e instanceof TrialError && /cannot resume from the checkpoint/.test(e.message));
    });
  }
});
