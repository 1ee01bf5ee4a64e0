import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createScheduler, type SchedulerOptions } from '../../src/schedulers/registry.js';
import { randomCurves, simulate } from './simulator.js';

/**
 * A fresh scheduler object (no memory) continuing on the same store decides exactly like
 * the one that ran from the start: same outcomes, same timeline.
 */
const CASES: [string, SchedulerOptions, number][] = [
  ['fifo', { maxEpochs: 6 }, 3],
  ['asha', { minEpochs: 1, maxEpochs: 9, eta: 3 }, 3],
  ['asha', { minEpochs: 2, maxEpochs: 10, eta: 2 }, 5],
  ['hyperband', { minEpochs: 2, maxEpochs: 10, eta: 2 }, 4],
  ['successive-halving', { minEpochs: 2, maxEpochs: 10, eta: 2, maxTrials: 30, pollMs: Number.POSITIVE_INFINITY }, 3],
  ['successive-halving', { minEpochs: 1, maxEpochs: 9, eta: 3, maxTrials: 30, pollMs: Number.POSITIVE_INFINITY }, 4],
];

/** Values rounded to 0.2: many exact ties at every rung, split by trial number. */
const random = randomCurves(11);
const CURVES: [string, (n: number, epoch: number) => number][] = [
  ['random curves', random],
  ['tied curves', (n, epoch) => Math.round(random(n, epoch) * 5) / 5],
];

describe('crash consistency: decisions are recomputed from the store', () => {
  for (const [curveName, curve] of CURVES) {
    for (const [name, opts, workers] of CASES) {
      it(`${name} ${JSON.stringify(opts)}, ${workers} workers, ${curveName}`, async () => {
        const run = (restartAt?: readonly number[] | 'every-tick') =>
          simulate({ scheduler: () => createScheduler(name, opts), trials: 30, workers, curve, restartAt });
        const base = await run();
        assert.deepEqual(base.deadlocked, []);
        const half = await run([Math.floor(base.time / 2)]);
        assert.deepEqual(half.trials, base.trials);
        assert.deepEqual(half.timeline, base.timeline);
        const always = await run('every-tick');
        assert.deepEqual(always.trials, base.trials);
        assert.deepEqual(always.timeline, base.timeline);
      });
    }
  }
});
