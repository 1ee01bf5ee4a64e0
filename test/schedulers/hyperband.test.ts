import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HyperbandScheduler } from '../../src/schedulers/hyperband.js';
import { outcomes, randomCurves, simulate } from './simulator.js';

const constant = (values: readonly number[]) => (n: number) => values[n - 1] ?? Number.NaN;
const d2l = () => new HyperbandScheduler(2, 10, 2);

describe('asynchronous Hyperband', () => {
  it('d2l ladder 2, 4, 8, 10: brackets s = 3..0 and their rungs', () => {
    const h = d2l();
    assert.equal(h.maxBracket, 3);
    assert.deepEqual([0, 1, 2, 3].map((s) => h.rungsOf(s)), [[10], [8, 10], [4, 8, 10], [2, 4, 8, 10]]);
    // n_s = ceil(4 / (s + 1) * 2^s): 4, 4, ceil(16/3) = 6, 8.
    assert.deepEqual(h.bracketWeights, [4, 4, 6, 8]);
  });

  it("weights reproduce Li et al.'s table for R = 27, eta = 3 (n = 27, 12, 6, 4)", () => {
    const h = new HyperbandScheduler(1, 27, 3);
    assert.deepEqual(h.bracketWeights, [4, 6, 12, 27]);
    assert.deepEqual(h.rungsOf(3), [1, 3, 9, 27]);
    assert.deepEqual(h.rungsOf(1), [9, 27]);
  });

  it('assignment: smooth weighted round-robin, hand-worked, cycling every 22 trials', () => {
    // Weights by s (3, 2, 1, 0) = (8, 6, 4, 4), total 22; running sums, pick max (ties: larger s):
    // 1: (8,6,4,4) -> 3 => (-14,6,4,4)   2: (-6,12,8,8) -> 2 => (-6,-10,8,8)
    // 3: (2,-4,12,12) -> 1 => (2,-4,-10,12)   4: (10,2,-6,16) -> 0 => (10,2,-6,-6)
    // 5: (18,8,-2,-2) -> 3 => (-4,8,-2,-2)   6: (4,14,2,2) -> 2 => (4,-8,2,2)
    // 7: (12,-2,6,6) -> 3 => (-10,-2,6,6)   8: (-2,4,10,10) -> 1 => (-2,4,-12,10)
    const h = d2l();
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => h.plan(n).bracket), [3, 2, 1, 0, 3, 2, 3, 1]);
    const counts = [0, 0, 0, 0];
    for (let n = 1; n <= 22; n++) counts[h.bracketOf(n)]! += 1;
    assert.deepEqual(counts, [4, 4, 6, 8]);
    for (let n = 1; n <= 22; n++) assert.equal(h.bracketOf(n + 22), h.bracketOf(n));
    assert.equal(h.plan(5).maxEpochs, 10);
  });

  it('rung values are separated per bracket: hand-worked, one worker', async () => {
    // Values 5,3,7,1,6,2,8,4; brackets 3,2,1,0,3,2,3,1.
    // s=3 (rungs 2,4,8): 1 (5) first everywhere; 5 (6): {5,6} k=1 -> stop at 2; 7 (8): stop at 2.
    // s=2 (rungs 4,8): 2 (3) first; 6 (2) best -> both complete.
    // s=1 (rung 8): 3 (7) first; 8 (4) best of {7,4} -> complete. Unseparated, trial 8 would
    //   meet {5,3,1,2} at epoch 8 and stop.
    // s=0: 4 never stops.
    const r = await simulate({ scheduler: d2l, trials: 8, workers: 1, curve: constant([5, 3, 7, 1, 6, 2, 8, 4]) });
    assert.deepEqual(outcomes(r), ['c10', 'c10', 'c10', 'c10', 'p2', 'c10', 'p2', 'c10']);
  });

  it('all tied: per bracket, the lowest-numbered trial of each rung goes on, hand-worked, one worker', async () => {
    // Every value 0.9; brackets 3,2,1,0,3,2,3,1 as above.
    // s=3 (rungs 2,4,8): 1 first everywhere -> completes; 5: {1,5} k=1, rank 1 -> stop at 2; 7: rank 2 -> stop at 2.
    // s=2 (rungs 4,8): 2 first; 6: rank 1 -> stop at 4. s=1 (rung 8): 3 first; 8 stops at 8. s=0: 4 completes.
    const r = await simulate({ scheduler: d2l, trials: 8, workers: 1, curve: () => 0.9 });
    assert.deepEqual(outcomes(r), ['c10', 'c10', 'c10', 'c10', 'p2', 'p4', 'p2', 'p8']);
  });

  it('random curves, 66 trials, 4 workers: stops only at the rungs of the trial’s own bracket', async () => {
    const h = d2l();
    const r = await simulate({ scheduler: d2l, trials: 66, workers: 4, curve: randomCurves(3) });
    let pruned = 0;
    for (const t of r.trials) {
      assert.ok(t.bracket !== null);
      if (t.state === 'pruned') {
        pruned++;
        assert.ok(h.rungsOf(t.bracket).slice(0, -1).includes(t.epochs), `trial ${t.number} stopped at ${t.epochs}`);
      } else {
        assert.equal(t.state, 'completed');
      }
      if (t.bracket === 0) assert.equal(t.state, 'completed');
    }
    assert.ok(pruned > 10);
    assert.equal(r.timeline.filter((e) => e.kind === 'park').length, 0);
  });

  it('r_min = r_max: one bracket, nothing stopped', async () => {
    const h = new HyperbandScheduler(4, 4, 2);
    assert.equal(h.maxBracket, 0);
    const r = await simulate({ scheduler: () => h, trials: 3, workers: 2, curve: constant([3, 2, 1]) });
    assert.deepEqual(outcomes(r), ['c4', 'c4', 'c4']);
  });
});
