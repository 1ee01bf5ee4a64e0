import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AshaScheduler } from '../../src/schedulers/asha.js';
import { isPromotable, rungLadder } from '../../src/schedulers/rungs.js';
import { MemoryRungStore, outcomes, reached, simulate } from './simulator.js';

/** Constant curves: trial n reports values[n - 1] at every epoch. */
const constant = (values: readonly number[]) => (n: number) => values[n - 1] ?? Number.NaN;
/** The d2l example: r_min 2, r_max 10, eta 2. */
const d2l = () => new AshaScheduler(2, 10, 2);
const VALUES = [5, 3, 7, 1, 6, 2, 8, 4];

describe('rungLadder', () => {
  const cases: [number, number, number, number[]][] = [
    [2, 10, 2, [2, 4, 8, 10]], // d2l: r_max is not r_min * 2^k
    [1, 9, 3, [1, 3, 9]],
    [1, 10, 3, [1, 3, 9, 10]],
    [1, 27, 3, [1, 3, 9, 27]],
    [3, 10, 4, [3, 10]],
    [5, 5, 2, [5]],
    [1, 1, 2, [1]],
  ];
  for (const [rMin, rMax, eta, want] of cases) {
    it(`r_min ${rMin}, r_max ${rMax}, eta ${eta} -> ${want.join(', ')}`, () => {
      assert.deepEqual(rungLadder(rMin, rMax, eta), want);
    });
  }
});

describe('isPromotable (continue iff #strictly better < max(1, floor(n/eta)))', () => {
  const cases: [number, number[], number, boolean][] = [
    [9, [9], 2, true], // first at the rung always continues
    [9, [1, 9], 2, false], // n = 2, keep 1
    [1, [9, 1], 2, true],
    [3, [1, 5, 3], 2, false], // n = 3, keep 1
    [3, [1, 5, 3, 7], 2, true], // n = 4, keep 2
    [5, [1, 5, 3, 7], 2, false],
    [3, [1, 3, 3, 7], 2, true], // ties go to the trial: both 3s continue
    [4, [1, 2, 3, 4, 5, 6, 7, 8, 9], 3, false], // keep 3
    [3, [1, 2, 3, 4, 5, 6, 7, 8, 9], 3, true],
    [Number.NaN, [1, Number.NaN], 2, false], // NaN is the worst value
  ];
  for (const [value, values, eta, want] of cases) {
    it(`${value} among [${values.join(', ')}], eta ${eta} -> ${want ? 'continue' : 'stop'}`, () => {
      assert.equal(isPromotable(value, values, eta), want);
    });
  }
});

describe('ASHA (stopping variant) in the simulator', () => {
  it('d2l settings, one worker, 8 constant curves: hand-worked table', async () => {
    // Trial (value): rung 2 values so far -> keep; rung 4 ...
    // 1 (5): n=1 k=1 cont; alone at 4, 8           -> completes
    // 2 (3): {5,3} k=1 best; {5,3} best; best      -> completes
    // 3 (7): {5,3,7} k=1, 2 better                 -> stop at 2
    // 4 (1): best everywhere                        -> completes
    // 5 (6): n=5 k=2, 3 better (5,3,1)              -> stop at 2
    // 6 (2): n=6 k=3, 1 better; 4: {5,3,1,2} k=2, 1 better; 8: same -> completes
    // 7 (8): n=7 k=3, 6 better                      -> stop at 2
    // 8 (4): n=8 k=4, 3 better -> cont; 4: {5,3,1,2,4} k=2, 3 better -> stop at 4
    const r = await simulate({ scheduler: d2l, trials: 8, workers: 1, curve: constant(VALUES) });
    assert.deepEqual(outcomes(r), ['c10', 'c10', 'p2', 'c10', 'p2', 'c10', 'p2', 'p4']);
    assert.deepEqual([2, 4, 8, 10].map((e) => reached(r, e)), [8, 5, 4, 4]);
    assert.equal(r.time, 4 * 10 + 3 * 2 + 4);
  });

  it('four workers: nobody waits, hand-worked timeline', async () => {
    // t=2: 1,2,4 pass rung 2, 3 stops (third at the rung, two better) -> 5 starts at t=2.
    // t=4: 5 stops at rung 2 (n=5, k=2, three better) -> 6 starts; 1,2,4 pass rung 4.
    // t=10: 1,2,4 complete -> 7 and 8 start. t=12: 7 stops, 8 passes rung 2 (n=8, k=4).
    // t=14: 6 completes (started t=4), 8 stops at rung 4 ({5,3,1,2,4}, k=2).
    const r = await simulate({ scheduler: d2l, trials: 8, workers: 4, curve: constant(VALUES) });
    assert.deepEqual(outcomes(r), ['c10', 'c10', 'p2', 'c10', 'p2', 'c10', 'p2', 'p4']);
    const at = (kind: string) =>
      r.timeline.filter((e) => e.kind === kind).map((e) => `${e.trial}@${e.time}`);
    assert.deepEqual(at('start'), ['1@0', '2@0', '3@0', '4@0', '5@2', '6@4', '7@10', '8@10']);
    assert.deepEqual(at('stop'), ['3@2', '5@4', '7@12', '8@14']);
    assert.deepEqual(at('complete'), ['1@10', '2@10', '4@10', '6@14']);
    assert.deepEqual(at('park'), []);
    assert.equal(r.time, 14);
  });

  it('first trial at a rung continues even with a terrible value; the second is judged', async () => {
    const r = await simulate({ scheduler: d2l, trials: 2, workers: 1, curve: constant([1e9, 2e9]) });
    assert.deepEqual(outcomes(r), ['c10', 'p2']);
  });

  it('decides only at rung epochs below r_max', async () => {
    const s = d2l();
    const store = new MemoryRungStore();
    for (let n = 1; n <= 3; n++) store.create(n, null, 10);
    for (const e of [1, 3, 5, 9, 10]) {
      store.report(1, e, 0);
      store.report(2, e, 0);
      store.report(3, e, 99);
      assert.equal(await s.decide({ studyId: 1, trialNumber: 3, bracket: null, epoch: e, value: 99 }, store), 'continue');
    }
    store.report(3, 2, 99);
    store.report(1, 2, 0);
    assert.equal(await s.decide({ studyId: 1, trialNumber: 3, bracket: null, epoch: 2, value: 99 }, store), 'stop');
  });

  it('plan: every trial gets r_max epochs and no bracket', () => {
    assert.deepEqual(d2l().plan(), { maxEpochs: 10, bracket: null });
  });
});
