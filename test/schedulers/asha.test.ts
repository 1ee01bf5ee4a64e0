import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AshaScheduler } from '../../src/schedulers/asha.js';
import { isPromotable, rungLadder, rungRank } from '../../src/schedulers/rungs.js';
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

describe('isPromotable (continue iff 0-based rank by (value, number) < max(1, floor(n/eta)))', () => {
  // [trial number, values at the rung indexed by trial number - 1, eta, continue?]
  const cases: [number, number[], number, boolean][] = [
    [1, [9], 2, true], // first at the rung always continues
    [1, [9, 1], 2, false], // n = 2, keep 1
    [2, [9, 1], 2, true],
    [3, [1, 5, 3], 2, false], // n = 3, keep 1
    [3, [1, 5, 3, 7], 2, true], // n = 4, keep 2
    [2, [1, 5, 3, 7], 2, false],
    [2, [1, 3, 3, 7], 2, true], // tie: the lower number (2) ranks 1st of the 3s -> rank 1 < 2
    [3, [1, 3, 3, 7], 2, false], // ... and 3 ranks after it -> rank 2
    [1, [3, 3, 3, 3], 2, true], // all tied, keep 2: trials 1 and 2 continue
    [2, [3, 3, 3, 3], 2, true],
    [3, [3, 3, 3, 3], 2, false],
    [4, [3, 3, 3, 3], 2, false],
    [1, [0.9, 0.9], 2, true], // the LeNet case: an earlier trial at 0.9 beats a later one
    [2, [0.9, 0.9], 2, false],
    [3, [0.9, 0.9, 0.9, 0.9, 0.9, 0.9], 3, false], // n = 6, eta 3, keep 2
    [4, [1, 2, 3, 4, 5, 6, 7, 8, 9], 3, false], // keep 3
    [3, [1, 2, 3, 4, 5, 6, 7, 8, 9], 3, true],
    [2, [1, Number.NaN], 2, false], // NaN is the worst value
    [1, [Number.NaN, 1], 2, false],
    [1, [Number.NaN, Number.NaN], 2, true], // NaN ties NaN: by number
    [2, [Number.NaN, Number.NaN], 2, false],
    [1, [Number.NaN, Number.POSITIVE_INFINITY], 2, false], // NaN ranks even after +Infinity
    [2, [Number.NaN, Number.POSITIVE_INFINITY], 2, true],
  ];
  for (const [number, values, eta, want] of cases) {
    it(`trial ${number} (${values[number - 1]}) among [${values.join(', ')}], eta ${eta} -> ${want ? 'continue' : 'stop'}`, () => {
      const results = values.map((value, i) => ({ trialNumber: i + 1, value }));
      const own = { trialNumber: number, value: values[number - 1]! };
      assert.equal(isPromotable(own, results, eta), want);
      // The order the store returns results in does not matter.
      assert.equal(isPromotable(own, [...results].reverse(), eta), want);
    });
  }

  it('rungRank: 0-based rank by (value, trial number); a tie ranks the lower number first', () => {
    const results = [
      { trialNumber: 5, value: 0.9 },
      { trialNumber: 2, value: 0.9 },
      { trialNumber: 7, value: 0.4 },
      { trialNumber: 3, value: 0.9 },
    ];
    assert.deepEqual(results.map((r) => rungRank(r, results)), [3, 1, 0, 2]);
  });
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

  it('all tied (LeNet not learning: 0.9 everywhere), 16 trials, 2 workers, r_min 1, r_max 4, eta 2: hand-worked', async () => {
    // Rungs 1, 2, 4. Every value is 0.9, so a trial's rank at a rung is the number of
    // lower-numbered trials there; it continues iff rank < max(1, floor(n/2)).
    // t=1: 1 at rung 1: n=1, rank 0 -> cont. 2: n=2 k=1, rank 1 (behind 1) -> stop; 3 starts.
    // t=2: 1 at rung 2: n=1 -> cont. 3 at rung 1: n=3 k=1, rank 2 -> stop; 4 starts.
    // t=3: 1 at epoch 3 (no rung). 4: n=4 k=2, rank 3 -> stop; 5 starts.
    // t=4: 1 completes at r_max. 5: n=5 k=2, rank 4 -> stop; 6 and 7 start.
    // Trial m >= 2 always meets the m - 1 lower-numbered trials at rung 1: n = m, rank m - 1
    // >= max(1, floor(m/2)) -> stop. t=5: 6, 7 stop; t=6: 8, 9; ... t=9: 14, 15; t=10: 16.
    // (The former "ties go to the trial" rule pruned nothing: all 16 completed 4 epochs.)
    const s = () => new AshaScheduler(1, 4, 2);
    assert.deepEqual(s().rungs, [1, 2, 4]);
    const r = await simulate({ scheduler: s, trials: 16, workers: 2, curve: () => 0.9 });
    assert.deepEqual(outcomes(r), ['c4', ...Array<string>(15).fill('p1')]);
    assert.deepEqual([1, 2, 4].map((e) => reached(r, e)), [16, 1, 1]);
    const at = (kind: string) => r.timeline.filter((e) => e.kind === kind).map((e) => `${e.trial}@${e.time}`);
    assert.deepEqual(at('start'), [
      '1@0', '2@0', '3@1', '4@2', '5@3', '6@4', '7@4', '8@5',
      '9@5', '10@6', '11@6', '12@7', '13@7', '14@8', '15@8', '16@9',
    ]);
    assert.deepEqual(at('stop'), [
      '2@1', '3@2', '4@3', '5@4', '6@5', '7@5', '8@6', '9@6',
      '10@7', '11@7', '12@8', '13@8', '14@9', '15@9', '16@10',
    ]);
    assert.deepEqual(at('complete'), ['1@4']);
    assert.equal(r.time, 10);
  });

  it('ties at a rung: the lower trial number ranks better, whatever the arrival order', async () => {
    // One worker, d2l ladder: values 0.5, 0.9, 0.9, 0.9, 0.2, 0.9.
    // Rung 2: 1 first; 2: {.5,.9} k=1 rank 1 -> stop; 3: {.5,.9,.9} k=1 -> stop;
    // 4: n=4 k=2, rank 3 (behind 1, 2, 3) -> stop; 5: best -> cont on every rung;
    // 6: n=6 k=3, rank 5 -> stop. Rung 4, 8: {1, 5}: 5 best, 1 first at 4 and 8 -> both complete.
    const r = await simulate({ scheduler: d2l, trials: 6, workers: 1, curve: constant([0.5, 0.9, 0.9, 0.9, 0.2, 0.9]) });
    assert.deepEqual(outcomes(r), ['c10', 'p2', 'p2', 'p2', 'c10', 'p2']);
  });

  it('a tie judged when the higher number reports first: it continues, the lower one too', async () => {
    // Two workers: 1 (0.9) reports 2 epochs, 2 (0.9) the same; then 3 (0.1) and 4 (0.9).
    const s = d2l();
    const store = new MemoryRungStore();
    for (let n = 1; n <= 4; n++) store.create(n, null, 10);
    const decide = (n: number, value: number) =>
      s.decide({ studyId: 1, trialNumber: n, bracket: null, epoch: 2, value }, store);
    store.report(2, 2, 0.9);
    assert.equal(await decide(2, 0.9), 'continue'); // first at the rung
    store.report(1, 2, 0.9);
    assert.equal(await decide(1, 0.9), 'continue'); // n=2 k=1: 1 ranks before 2
    store.report(3, 2, 0.1);
    assert.equal(await decide(3, 0.1), 'continue'); // n=3 k=1: best
    store.report(4, 2, 0.9);
    assert.equal(await decide(4, 0.9), 'stop'); // n=4 k=2: behind 3, 1, 2
    // Asked again now, trial 2 would stop (rank 2 of 4): decisions are per report.
    assert.equal(await decide(2, 0.9), 'stop');
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
