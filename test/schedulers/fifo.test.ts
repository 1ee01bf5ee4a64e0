import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FifoScheduler } from '../../src/schedulers/fifo.js';
import { outcomes, simulate } from './simulator.js';

describe('fifo', () => {
  it('every trial trains maxEpochs, whatever its values', async () => {
    const r = await simulate({ scheduler: () => new FifoScheduler(5), trials: 7, workers: 3, curve: (n) => n * 100 });
    assert.deepEqual(outcomes(r), Array(7).fill('c5'));
    assert.equal(r.time, 15); // ceil(7 / 3) * 5
  });
});
