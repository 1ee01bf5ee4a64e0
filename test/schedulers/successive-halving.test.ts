import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SuccessiveHalvingScheduler, type SuccessiveHalvingOptions } from '../../src/schedulers/successive-halving.js';
import { MemoryRungStore, outcomes, randomCurves, reached, simulate, type SimResult } from './simulator.js';

const constant = (values: readonly number[]) => (n: number) => values[n - 1] ?? Number.NaN;
const VALUES = [5, 3, 7, 1, 6, 2, 8, 4];
/** d2l: r_min 2, r_max 10, eta 2 -> rungs 2, 4, 8, 10 and 2^3 = 8 trials per round. */
const sh = (extra: Partial<SuccessiveHalvingOptions> = {}) => () =>
  new SuccessiveHalvingScheduler({ minEpochs: 2, maxEpochs: 10, eta: 2, pollMs: Number.POSITIVE_INFINITY, ...extra });

/** Hand-worked for VALUES: rung 2 keeps 1,2,3,4 (trials 4,6,2,8); rung 4 keeps 1,2 (4,6); rung 8 keeps 1 (4). */
const D2L_OUTCOME = ['p2', 'p4', 'p2', 'c10', 'p2', 'p8', 'p2', 'p4'];

/** Nobody in a round reports past rung r before every member has reported r (or finished). */
function assertSynchronous(r: SimResult, s: SuccessiveHalvingScheduler): void {
  for (const rung of s.rungs.slice(0, -1)) {
    const rounds = new Set(r.trials.map((t) => t.bracket));
    for (const round of rounds) {
      const members = new Set(r.trials.filter((t) => t.bracket === round).map((t) => t.number));
      const reports = r.timeline.filter((e) => e.kind === 'report' && members.has(e.trial));
      const lastAt = Math.max(...reports.filter((e) => e.epoch === rung).map((e) => e.time));
      const firstPast = Math.min(...reports.filter((e) => e.epoch === rung + 1).map((e) => e.time));
      assert.ok(lastAt < firstPast, `round ${round}: a trial passed rung ${rung} at ${firstPast} before it filled at ${lastAt}`);
    }
  }
}

describe('synchronous successive halving', () => {
  it('d2l settings: rounds of 8, round index as bracket', () => {
    const s = sh()();
    assert.deepEqual(s.rungs, [2, 4, 8, 10]);
    assert.equal(s.trialsPerRound, 8);
    assert.deepEqual([1, 8, 9, 16, 17].map((n) => s.plan(n)), [0, 0, 1, 1, 2].map((b) => ({ maxEpochs: 10, bracket: b })));
  });

  it('8 workers, 8 trials: 8 -> 4 -> 2 -> 1, hand-worked', async () => {
    const r = await simulate({ scheduler: sh(), trials: 8, workers: 8, curve: constant(VALUES) });
    assert.deepEqual(outcomes(r), D2L_OUTCOME);
    assert.deepEqual([2, 4, 8, 10].map((e) => reached(r, e)), [8, 4, 2, 1]);
    assert.equal(r.time, 10); // enough workers: waiting costs nothing
    assert.deepEqual(r.deadlocked, []);
  });

  it('2 workers, 8 trials: parked trials free their worker, no deadlock, same decisions', async () => {
    // t=2,4,6,8: pairs (1,2) (3,4) (5,6) (7,8) reach epoch 2; 1..7 park, 8 fills the rung
    // and keeps its worker; 2 resumes. t=10: 2 and 8 park at 4; 4 and 6 resume.
    // t=12: 6 fills rung 4 -> 4 resumes. t=16: 6 fills rung 8 and stops; 4 resumes, ends t=18.
    const s = sh();
    const r = await simulate({ scheduler: s, trials: 8, workers: 2, curve: constant(VALUES) });
    assert.deepEqual(outcomes(r), D2L_OUTCOME);
    assert.deepEqual(r.deadlocked, []);
    assert.equal(r.time, 18);
    const at = (kind: string) => r.timeline.filter((e) => e.kind === kind).map((e) => `${e.trial}@${e.time}`);
    assert.deepEqual(at('resume'), ['2@8', '4@10', '6@10', '4@12', '4@16']);
    assert.deepEqual(at('stop'), ['1@8', '3@8', '5@8', '7@8', '2@12', '8@12', '6@16']);
    assertSynchronous(r, s());
  });

  for (const workers of [1, 2, 3, 8]) {
    it(`all tied (0.9 everywhere), 8 trials, ${workers} workers: 8 -> 4 -> 2 -> 1, lowest numbers promoted`, async () => {
      // Ranked by (value, number), a round of equal values keeps trials 1-4 at rung 2,
      // 1-2 at rung 4 and 1 at rung 8 (the former rule promoted all 8 at every rung).
      const s = sh();
      const r = await simulate({ scheduler: s, trials: 8, workers, curve: () => 0.9 });
      assert.deepEqual(r.deadlocked, []);
      assert.deepEqual(outcomes(r), ['c10', 'p8', 'p4', 'p4', 'p2', 'p2', 'p2', 'p2']);
      assert.deepEqual([2, 4, 8, 10].map((e) => reached(r, e)), [8, 4, 2, 1]);
      assertSynchronous(r, s());
    });
  }

  it('all tied, two rounds: each round promotes its own lowest numbers', async () => {
    const r = await simulate({ scheduler: sh({ maxTrials: 16 }), trials: 16, workers: 3, curve: () => 0.9 });
    const round = ['c10', 'p8', 'p4', 'p4', 'p2', 'p2', 'p2', 'p2'];
    assert.deepEqual(outcomes(r), [...round, ...round]);
  });

  it('partial ties: a tie at the cut is split by trial number', async () => {
    // Values 0.5, 0.9, 0.9, 0.1, 0.9, 0.9, 0.3, 0.9. Rung 2 keeps 4: 4 (.1), 7 (.3), 1 (.5),
    // then of the five 0.9s only trial 2. Rung 4 keeps 4, 7. Rung 8 keeps 4.
    const r = await simulate({ scheduler: sh(), trials: 8, workers: 4, curve: constant([0.5, 0.9, 0.9, 0.1, 0.9, 0.9, 0.3, 0.9]) });
    assert.deepEqual(outcomes(r), ['p4', 'p4', 'p2', 'c10', 'p2', 'p2', 'p8', 'p2']);
    assert.deepEqual([2, 4, 8, 10].map((e) => reached(r, e)), [8, 4, 2, 1]);
  });

  for (const workers of [1, 2, 3, 5, 8, 13]) {
    it(`random curves, 24 trials (3 rounds), ${workers} workers: synchronous, 8/4/2/1 per round`, async () => {
      const s = sh({ maxTrials: 24 });
      const r = await simulate({ scheduler: s, trials: 24, workers, curve: randomCurves(7) });
      assert.deepEqual(r.deadlocked, []);
      assertSynchronous(r, s());
      for (const round of [0, 1, 2]) {
        const members = r.trials.filter((t) => t.bracket === round);
        assert.deepEqual([2, 4, 8, 10].map((e) => members.filter((t) => t.epochs >= e).length), [8, 4, 2, 1]);
      }
    });
  }

  it('rounds are independent: the second round is judged only against itself', async () => {
    // Round 1 (trials 9..16) is uniformly worse than round 0 and still keeps 4, 2, 1.
    const curve = (n: number) => (n <= 8 ? VALUES[n - 1] ?? 0 : 100 + (VALUES[n - 9] ?? 0));
    const r = await simulate({ scheduler: sh({ maxTrials: 16 }), trials: 16, workers: 3, curve });
    assert.deepEqual(outcomes(r), [...D2L_OUTCOME, ...D2L_OUTCOME]);
  });

  it('a partial last round is sized by maxTrials: 4 -> 2 -> 1 -> 1', async () => {
    const r = await simulate({ scheduler: sh({ maxTrials: 12 }), trials: 12, workers: 3, curve: constant([...VALUES, 5, 3, 7, 1]) });
    assert.deepEqual(outcomes(r).slice(8), ['p2', 'p4', 'p2', 'c10']);
    assert.deepEqual(r.deadlocked, []);
  });

  it('without maxTrials a partial last round waits forever (the simulator reports the deadlock)', async () => {
    const r = await simulate({ scheduler: sh(), trials: 12, workers: 3, curve: constant([...VALUES, 5, 3, 7, 1]) });
    assert.deepEqual(r.deadlocked, [9, 10, 11, 12]);
    assert.deepEqual(outcomes(r).slice(0, 8), D2L_OUTCOME);
  });

  it('trialsPerRound 4: 4 -> 2 -> 1 -> 1', async () => {
    const r = await simulate({ scheduler: sh({ trialsPerRound: 4, maxTrials: 4 }), trials: 4, workers: 2, curve: constant([5, 3, 7, 1]) });
    assert.deepEqual(outcomes(r), ['p2', 'p4', 'p2', 'c10']);
  });

  describe('waiting in decide()', () => {
    const input = (trialNumber: number, epoch: number, value: number, signal?: AbortSignal) => ({
      studyId: 1,
      trialNumber,
      bracket: 0,
      epoch,
      value,
      signal,
    });
    const round = (store: MemoryRungStore) => {
      for (let n = 1; n <= 4; n++) store.create(n, 0, 10);
    };

    it('resolves on wake() once the round has filled the rung', async () => {
      const s = new SuccessiveHalvingScheduler({ minEpochs: 2, maxEpochs: 10, eta: 2, trialsPerRound: 4, pollMs: Number.POSITIVE_INFINITY });
      const store = new MemoryRungStore();
      round(store);
      store.report(1, 2, 1);
      let settled: string | undefined;
      void s.decide(input(1, 2, 1), store).then((d) => (settled = d));
      for (const n of [2, 3]) {
        store.report(n, 2, n);
        s.wake();
        await new Promise((r) => setImmediate(r));
        assert.equal(settled, undefined);
      }
      store.report(4, 2, 4);
      assert.equal(await s.decide(input(4, 2, 4), store), 'stop'); // the last one decides at once
      s.wake();
      await new Promise((r) => setImmediate(r));
      assert.equal(settled, 'continue');
    });

    it('polls without wake()', async () => {
      const s = new SuccessiveHalvingScheduler({ minEpochs: 2, maxEpochs: 10, eta: 2, trialsPerRound: 2, pollMs: 2 });
      const store = new MemoryRungStore();
      store.create(1, 0, 10);
      store.create(2, 0, 10);
      store.report(1, 2, 5);
      const p = s.decide(input(1, 2, 5), store);
      setTimeout(() => store.report(2, 2, 1), 5);
      assert.equal(await p, 'stop');
    });

    it('rejects with the abort reason', async () => {
      const s = new SuccessiveHalvingScheduler({ minEpochs: 2, maxEpochs: 10, eta: 2, trialsPerRound: 4, pollMs: Number.POSITIVE_INFINITY });
      const store = new MemoryRungStore();
      round(store);
      store.report(1, 2, 1);
      const ac = new AbortController();
      const p = s.decide(input(1, 2, 1, ac.signal), store);
      await new Promise((r) => setImmediate(r));
      ac.abort(new Error('shutting down'));
      await assert.rejects(p, /shutting down/);
    });

    it('failed and pruned members count as resolved; interrupted ones block', async () => {
      const s = new SuccessiveHalvingScheduler({ minEpochs: 2, maxEpochs: 10, eta: 2, trialsPerRound: 4, pollMs: Number.POSITIVE_INFINITY });
      const store = new MemoryRungStore();
      round(store);
      store.report(1, 2, 3);
      store.report(2, 2, 1);
      store.report(3, 2, 2);
      store.report(4, 1, 9);
      store.finish(4, 'interrupted');
      assert.equal(await s.tryDecide(input(1, 2, 3), store), null);
      store.finish(4, 'failed');
      // Three values at the rung: keep max(1, floor(3/2)) = 1.
      assert.equal(await s.tryDecide(input(2, 2, 1), store), 'continue');
      assert.equal(await s.tryDecide(input(3, 2, 2), store), 'stop');
      // Rung 4: trial 2 is there; 1 and 3 were pruned at 2; 4 failed.
      store.finish(1, 'pruned');
      store.finish(3, 'pruned');
      store.report(2, 4, 1);
      assert.equal(await s.tryDecide(input(2, 4, 1), store), 'continue');
    });

    it('an unclaimed member blocks the round', async () => {
      const s = new SuccessiveHalvingScheduler({ minEpochs: 2, maxEpochs: 10, eta: 2, trialsPerRound: 2 });
      const store = new MemoryRungStore();
      store.create(1, 0, 10);
      store.report(1, 2, 1);
      assert.equal(await s.tryDecide(input(1, 2, 1), store), null);
    });

    it('never waits at non-rung epochs or at r_max', async () => {
      const s = new SuccessiveHalvingScheduler({ minEpochs: 2, maxEpochs: 10, eta: 2, trialsPerRound: 4 });
      const store = new MemoryRungStore();
      round(store);
      for (const e of [1, 3, 10]) assert.equal(await s.decide(input(1, e, 1), store), 'continue');
    });
  });
});
