/**
 * The one storage test suite every backend runs (Optuna-style): SQLite and PostgreSQL
 * must behave identically on everything here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HpoError, ReadOnlyError, StorageError } from '../../src/errors.js';
import type { Params } from '../../src/space/distribution.js';
import type { ClaimRequest, Storage, StudySpec, TrialRecord } from '../../src/storage/storage.js';

let seq = 0;

export function spec(overrides: Partial<StudySpec> = {}): StudySpec {
  return {
    name: `study-${process.pid}-${++seq}`,
    objective: 'fashion-mnist',
    model: 'softmax',
    // Key order is deliberately not alphabetical: it must survive the round trip.
    space: { lr: { type: 'loguniform', low: 1e-4, high: 1 }, batch: { type: 'int', low: 16, high: 256, log: true } },
    settings: { epochs: 9, scheduler: 'asha', eta: 3 },
    seed: 2 ** 53,
    ...overrides,
  };
}

export function claimReq(studyId: number, overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    studyId,
    maxTrials: 100,
    owner: 'host:1:a',
    staleAfterMs: 60_000,
    newTrial: (n) => ({ params: { zeta: n, alpha: `a${n}` } as Params, seed: 2 ** 53 - n, bracket: n % 2 }),
    ...overrides,
  };
}

/** Open a fresh storage, run `fn`, always close. */
async function withStorage(make: () => Promise<Storage>, fn: (s: Storage) => Promise<void>): Promise<void> {
  const s = await make();
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

async function claimAll(s: Storage, studyId: number, n: number, req: Partial<ClaimRequest> = {}): Promise<TrialRecord[]> {
  const out: TrialRecord[] = [];
  for (let i = 0; i < n; i++) {
    const t = await s.claimTrial(claimReq(studyId, req));
    assert.ok(t, `claim ${i + 1} returned null`);
    out.push(t);
  }
  return out;
}

export function runStorageContract(name: string, makeStorage: () => Promise<Storage>): void {
  const test = (title: string, fn: (s: Storage) => Promise<void>): void => {
    it(title, () => withStorage(makeStorage, fn));
  };

  describe(`storage contract: ${name}`, () => {
    test('createStudy creates once, then returns the same record with created=false', async (s) => {
      const sp = spec();
      const a = await s.createStudy(sp);
      assert.equal(a.created, true);
      assert.equal(a.study.name, sp.name);
      assert.deepEqual(Object.keys(a.study.space), ['lr', 'batch']);
      assert.deepEqual(a.study.settings, sp.settings);
      assert.equal(a.study.seed, 2 ** 53);
      assert.equal(a.study.model, 'softmax');
      assert.match(a.study.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const b = await s.createStudy({ ...sp, seed: 7 });
      assert.equal(b.created, false);
      assert.deepEqual(b.study, a.study);
      assert.deepEqual(await s.getStudy(sp.name), a.study);
      assert.equal(await s.getStudy('no-such-study'), undefined);
      const other = await s.createStudy(spec({ model: null, seed: 0 }));
      assert.equal(other.study.model, null);
      const list = await s.listStudies();
      const mine = list.filter((x) => x.id === a.study.id || x.id === other.study.id);
      assert.equal(mine.length, 2);
      assert.deepEqual(mine[0]!.counts, { running: 0, completed: 0, pruned: 0, failed: 0, interrupted: 0 });
      assert.equal(mine[0]!.best, null);
    });

    test('claims get dense unique numbers; newTrial is called only for new numbers', async (s) => {
      const { study } = await s.createStudy(spec());
      const called: number[] = [];
      const req = {
        newTrial: (n: number) => {
          called.push(n);
          return { params: { zeta: n, alpha: 'x' }, seed: 1000 + n, bracket: null };
        },
      };
      const ts = await claimAll(s, study.id, 5, req);
      assert.deepEqual(ts.map((t) => t.number), [1, 2, 3, 4, 5]);
      assert.deepEqual(called, [1, 2, 3, 4, 5]);
      const t = ts[2]!;
      assert.equal(t.state, 'running');
      assert.equal(t.attempt, 1);
      assert.equal(t.epochs, 0);
      assert.equal(t.seed, 1003);
      assert.equal(t.owner, 'host:1:a');
      assert.equal(t.studyId, study.id);
      assert.deepEqual(Object.keys(t.params), ['zeta', 'alpha']);
      assert.ok(t.startedAt !== null && t.heartbeatAt !== null);
      assert.equal(t.finishedAt, null);
      // Re-running an interrupted trial must not ask for a new config.
      await s.finishTrial(t.id, 1, { state: 'interrupted', value: null, error: 'stopped' });
      const again = await s.claimTrial(claimReq(study.id, req));
      assert.equal(again?.number, 3);
      assert.deepEqual(again?.params, t.params);
      assert.deepEqual(called, [1, 2, 3, 4, 5]);
      const ids = new Set((await s.getTrials(study.id)).map((x) => x.id));
      assert.equal(ids.size, 5);
    });

    test('interrupted trials are claimed first (lowest number), attempt+1, reports cleared', async (s) => {
      const { study } = await s.createStudy(spec());
      const ts = await claimAll(s, study.id, 4);
      for (const t of ts) assert.equal(await s.recordReport(t.id, 1, 1, 0.5 + t.number / 100), true);
      assert.equal(await s.recordReport(ts[3]!.id, 1, 2, 0.4), true);
      assert.equal(await s.interruptOwners(study.id, ['host:1:a'], 'process died'), 4);
      assert.equal((await s.stateCounts(study.id)).interrupted, 4);
      await s.finishTrial(ts[0]!.id, 1, { state: 'completed', value: 1 }).then((ok) => assert.equal(ok, false));
      const t4 = await s.getTrials(study.id, { states: ['interrupted'] });
      assert.equal(t4.length, 4);
      assert.equal(t4[0]!.error, 'process died');
      assert.equal(t4[3]!.epochs, 2);

      const r = await s.claimTrial(claimReq(study.id, { owner: 'host:2:b' }));
      assert.ok(r);
      assert.equal(r.number, 1);
      assert.equal(r.attempt, 2);
      assert.equal(r.owner, 'host:2:b');
      assert.equal(r.state, 'running');
      assert.equal(r.epochs, 0);
      assert.equal(r.error, null);
      assert.deepEqual(await s.getReports(study.id, { trialId: r.id }), []);
      // Other interrupted trials keep their reports until they are re-claimed.
      assert.equal((await s.getReports(study.id, { trialId: ts[3]!.id })).length, 2);
      // The old attempt cannot write any more.
      assert.equal(await s.recordReport(r.id, 1, 1, 0.1), false);
      assert.equal(await s.recordReport(r.id, 2, 1, 0.1), true);
      const next = await claimAll(s, study.id, 4);
      assert.deepEqual(next.map((t) => [t.number, t.attempt]), [[2, 2], [3, 2], [4, 2], [5, 1]]);
    });

    test('the budget counts every trial; null when full', async (s) => {
      const { study } = await s.createStudy(spec());
      const ts = await claimAll(s, study.id, 3, { maxTrials: 3 });
      assert.equal(await s.claimTrial(claimReq(study.id, { maxTrials: 3 })), null);
      await s.finishTrial(ts[0]!.id, 1, { state: 'completed', value: 0.3 });
      await s.finishTrial(ts[1]!.id, 1, { state: 'failed', value: null, error: 'boom' });
      assert.equal(await s.claimTrial(claimReq(study.id, { maxTrials: 3 })), null);
      await s.finishTrial(ts[2]!.id, 1, { state: 'interrupted', value: null });
      const again = await s.claimTrial(claimReq(study.id, { maxTrials: 3 }));
      assert.equal(again?.number, 3);
      assert.equal(await s.claimTrial(claimReq(study.id, { maxTrials: 3 })), null);
      // A larger budget later continues the numbering.
      assert.equal((await s.claimTrial(claimReq(study.id, { maxTrials: 4 })))?.number, 4);
      assert.equal(await s.claimTrial(claimReq(study.id, { maxTrials: 0 })), null);
    });

    test('running trials with a stale heartbeat are interrupted and re-claimed', async (s) => {
      const { study } = await s.createStudy(spec());
      const [a, b] = await claimAll(s, study.id, 2);
      assert.ok(a && b);
      await sleep(150);
      await s.heartbeat('host:1:a', [b.id]); // b stays alive
      const r = await s.claimTrial(claimReq(study.id, { owner: 'host:9:z', staleAfterMs: 100 }));
      assert.equal(r?.number, 1);
      assert.equal(r?.attempt, 2);
      const all = await s.getTrials(study.id);
      assert.equal(all[1]!.state, 'running');
      assert.equal(all[1]!.attempt, 1);
      assert.equal(await s.finishTrial(a.id, 1, { state: 'completed', value: 0.1 }), false);
      assert.equal(await s.recordReport(a.id, 1, 1, 0.1), false);
      const fresh = await s.claimTrial(claimReq(study.id, { staleAfterMs: 60_000 }));
      assert.equal(fresh?.number, 3);
    });

    test('the stale reason is recorded on trials interrupted but not yet re-run', async (s) => {
      const { study } = await s.createStudy(spec());
      await claimAll(s, study.id, 2, { owner: 'o1' });
      await sleep(60);
      // Both go stale; the claim re-runs number 1 and leaves number 2 interrupted.
      const r = await s.claimTrial(claimReq(study.id, { maxTrials: 2, staleAfterMs: 20, owner: 'o2' }));
      assert.equal(r?.number, 1);
      assert.equal(r?.attempt, 2);
      const t2 = (await s.getTrials(study.id))[1]!;
      assert.equal(t2.state, 'interrupted');
      assert.match(t2.error ?? '', /heartbeat/);
      assert.match(t2.error ?? '', /o1/);
      await s.interruptOwners(study.id, ['o2'], 'owner o2 is gone');
      const t1 = (await s.getTrials(study.id))[0]!;
      assert.equal(t1.state, 'interrupted');
      assert.equal(t1.error, 'owner o2 is gone');
    });

    test('ownership: wrong attempt or not running -> false and nothing written', async (s) => {
      const { study } = await s.createStudy(spec());
      const [t] = await claimAll(s, study.id, 1);
      assert.ok(t);
      assert.equal(await s.recordReport(t.id, 2, 1, 0.5), false);
      assert.equal(await s.finishTrial(t.id, 2, { state: 'completed', value: 0.5 }), false);
      assert.equal(await s.recordReport(999_999, 1, 1, 0.5), false);
      assert.deepEqual(await s.getReports(study.id), []);
      assert.equal((await s.getTrials(study.id))[0]!.state, 'running');
      await assert.rejects(s.recordReport(t.id, 1, 0, 0.5), RangeError);
      await assert.rejects(s.recordReport(t.id, 1, 1, Number.NaN), RangeError);
      assert.deepEqual(await s.runningOwners(study.id), ['host:1:a']);
      await claimAll(s, study.id, 1, { owner: 'host:0:b' });
      assert.deepEqual(await s.runningOwners(study.id), ['host:0:b', 'host:1:a']);
    });

    test('finished trials are immutable', async (s) => {
      const { study } = await s.createStudy(spec());
      const [t, u] = await claimAll(s, study.id, 2);
      assert.ok(t && u);
      assert.equal(await s.recordReport(t.id, 1, 1, 0.9), true);
      assert.equal(await s.recordReport(t.id, 1, 2, 0.7), true);
      assert.equal(await s.finishTrial(t.id, 1, { state: 'completed', value: 0.7 }), true);
      const done = (await s.getTrials(study.id))[0]!;
      assert.equal(done.state, 'completed');
      assert.equal(done.value, 0.7);
      assert.equal(done.epochs, 2);
      assert.ok(done.finishedAt !== null);
      assert.equal(await s.finishTrial(t.id, 1, { state: 'failed', value: null, error: 'late' }), false);
      assert.equal(await s.recordReport(t.id, 1, 3, 0.1), false);
      await s.heartbeat('host:1:a', [t.id]);
      assert.equal(await s.interruptOwners(study.id, ['host:1:a'], 'gone'), 1); // only u
      const after = (await s.getTrials(study.id))[0]!;
      assert.deepEqual(after, done);
      // Pruned keeps the value it was given; failed keeps its error.
      const [p, f] = await claimAll(s, study.id, 2, { maxTrials: 3 });
      assert.ok(p && f);
      assert.equal(p.number, 2); // u re-claimed
      assert.equal(await s.recordReport(p.id, 2, 1, 0.8), true);
      assert.equal(await s.finishTrial(p.id, 2, { state: 'pruned', value: 0.8 }), true);
      assert.equal(await s.finishTrial(f.id, 1, { state: 'failed', value: null, error: 'NaN loss' }), true);
      const all = await s.getTrials(study.id);
      assert.deepEqual(all.map((x) => [x.number, x.state, x.value, x.error]), [
        [1, 'completed', 0.7, null],
        [2, 'pruned', 0.8, null],
        [3, 'failed', null, 'NaN loss'],
      ]);
      assert.equal(await s.claimTrial(claimReq(study.id, { maxTrials: 3, staleAfterMs: 0 })), null);
    });

    test('recordReport keeps the latest value per epoch and epochs = max epoch', async (s) => {
      const { study } = await s.createStudy(spec());
      const [t] = await claimAll(s, study.id, 1);
      assert.ok(t);
      await s.recordReport(t.id, 1, 2, 0.6);
      await s.recordReport(t.id, 1, 1, 0.8);
      await s.recordReport(t.id, 1, 2, 0.5);
      assert.equal((await s.getTrials(study.id))[0]!.epochs, 2);
      assert.deepEqual(await s.getReports(study.id), [
        { trialId: t.id, trialNumber: 1, epoch: 1, value: 0.8 },
        { trialId: t.id, trialNumber: 1, epoch: 2, value: 0.5 },
      ]);
    });

    test('rungResults by epoch and bracket, with trial numbers; getReports across trials', async (s) => {
      const { study } = await s.createStudy(spec());
      const other = await s.createStudy(spec());
      const ts = await claimAll(s, study.id, 4); // brackets 1, 0, 1, 0
      const [x] = await claimAll(s, other.study.id, 1);
      assert.ok(x);
      await s.recordReport(x.id, 1, 1, 0.01);
      const v = [0.4, 0.3, 0.2, 0.1];
      for (const [i, t] of ts.entries()) await s.recordReport(t.id, 1, 1, v[i]!);
      await s.recordReport(ts[0]!.id, 1, 3, 0.35);
      const all = [
        { trialNumber: 4, value: 0.1 },
        { trialNumber: 3, value: 0.2 },
        { trialNumber: 2, value: 0.3 },
        { trialNumber: 1, value: 0.4 },
      ];
      // Ascending by value; every result carries the number of the trial that reported it.
      assert.deepEqual(await s.rungResults(study.id, 1), all);
      assert.deepEqual(await s.rungResults(study.id, 1, null), all);
      assert.deepEqual(await s.rungResults(study.id, 1, 1), [all[1], all[3]]);
      assert.deepEqual(await s.rungResults(study.id, 1, 0), [all[0], all[2]]);
      assert.deepEqual(await s.rungResults(study.id, 3), [{ trialNumber: 1, value: 0.35 }]);
      assert.deepEqual(await s.rungResults(study.id, 2), []);
      assert.deepEqual(await s.rungResults(study.id, 1, 7), []);
      assert.deepEqual(await s.rungResults(other.study.id, 1), [{ trialNumber: 1, value: 0.01 }]);
      const reps = await s.getReports(study.id);
      assert.deepEqual(reps.map((r) => [r.trialNumber, r.epoch, r.value]), [
        [1, 1, 0.4],
        [1, 3, 0.35],
        [2, 1, 0.3],
        [3, 1, 0.2],
        [4, 1, 0.1],
      ]);
      assert.deepEqual(await s.getReports(other.study.id), [{ trialId: x.id, trialNumber: 1, epoch: 1, value: 0.01 }]);
    });

    test('trialHistory: numbers above `after` plus the listed ones, with params, values and reports on request', async (s) => {
      const { study } = await s.createStudy(spec());
      const other = await s.createStudy(spec());
      const ts = await claimAll(s, study.id, 5);
      await claimAll(s, other.study.id, 2);
      await s.recordReport(ts[0]!.id, 1, 1, 0.5);
      await s.recordReport(ts[0]!.id, 1, 2, 0.25);
      await s.finishTrial(ts[0]!.id, 1, { state: 'completed', value: 0.25 });
      await s.recordReport(ts[1]!.id, 1, 1, 0.9);
      await s.finishTrial(ts[1]!.id, 1, { state: 'pruned', value: 0.9 });
      await s.finishTrial(ts[2]!.id, 1, { state: 'failed', value: null, error: 'x' });
      await s.recordReport(ts[3]!.id, 1, 1, 0.7); // 4 and 5 still running
      const all = await s.trialHistory(study.id, { after: 0 });
      assert.deepEqual(
        all.map((r) => [r.number, r.state, r.value, r.reports.length]),
        [
          [1, 'completed', 0.25, 0],
          [2, 'pruned', 0.9, 0],
          [3, 'failed', null, 0],
          [4, 'running', null, 0],
          [5, 'running', null, 0],
        ],
      );
      assert.deepEqual(all[0]!.params, { zeta: 1, alpha: 'a1' });
      assert.deepEqual(Object.keys(all[0]!.params), ['zeta', 'alpha']); // key order kept
      const withReports = await s.trialHistory(study.id, { after: 0, reports: true });
      assert.deepEqual(withReports.map((r) => r.reports), [[[1, 0.5], [2, 0.25]], [[1, 0.9]], [], [[1, 0.7]], []]);
      // Incremental: above 3, plus trial 1 asked again; the other study never leaks in.
      const some = await s.trialHistory(study.id, { after: 3, numbers: [1], reports: true });
      assert.deepEqual(some.map((r) => r.number), [1, 4, 5]);
      assert.deepEqual(some[1]!.reports, [[1, 0.7]]);
      assert.deepEqual(await s.trialHistory(study.id, { after: 5 }), []);
      assert.deepEqual((await s.trialHistory(other.study.id, { after: 0 })).map((r) => r.number), [1, 2]);
      await assert.rejects(s.trialHistory(study.id, { after: -1 }), RangeError);
      await assert.rejects(s.trialHistory(study.id, { after: 0, numbers: [0] }), RangeError);
    });

    test('enqueued configs go to the next new numbers, oldest first, after interrupted trials are re-run', async (s) => {
      const { study } = await s.createStudy(spec());
      const [t1] = await claimAll(s, study.id, 1);
      assert.equal(await s.enqueueTrial(study.id, { lr: 0.1, batch: 32 }), 1);
      assert.equal(await s.enqueueTrial(study.id, { lr: 0.2, batch: 64 }), 2);
      assert.deepEqual(await s.enqueuedTrials(study.id), [{ lr: 0.1, batch: 32 }, { lr: 0.2, batch: 64 }]);
      await s.interruptOwners(study.id, ['host:1:a'], 'gone');
      const seen: [number, unknown][] = [];
      const req = {
        newTrial: (n: number, enqueued?: Params) => {
          seen.push([n, enqueued]);
          return { params: enqueued ?? ({ zeta: n } as Params), seed: n, bracket: null };
        },
      };
      const again = await s.claimTrial(claimReq(study.id, req));
      assert.equal(again!.id, t1!.id); // the interrupted trial first, with its own params
      const a = await s.claimTrial(claimReq(study.id, req));
      const b = await s.claimTrial(claimReq(study.id, req));
      const c = await s.claimTrial(claimReq(study.id, req));
      assert.deepEqual([a!.number, a!.params], [2, { lr: 0.1, batch: 32 }]);
      assert.deepEqual([b!.number, b!.params], [3, { lr: 0.2, batch: 64 }]);
      assert.deepEqual([c!.number, c!.params], [4, { zeta: 4 }]);
      assert.deepEqual(seen, [[2, { lr: 0.1, batch: 32 }], [3, { lr: 0.2, batch: 64 }], [4, undefined]]);
      assert.deepEqual(await s.enqueuedTrials(study.id), []);
      await assert.rejects(s.enqueueTrial(987654, { a: 1 }), StorageError);
    });

    test('enqueueTrials: keyed configs are queued once per study, even after they ran; all or none', async (s) => {
      const { study } = await s.createStudy(spec());
      const other = await s.createStudy({ ...spec(), name: 'other' });
      const items = [{ params: { lr: 0.1 }, key: 'a#1' }, { params: { lr: 0.1 }, key: 'a#2' }, { params: { lr: 0.3 } }];
      assert.deepEqual(await s.enqueueTrials(study.id, items), { added: 3, skipped: 0, waiting: 3 });
      // Same keys again: skipped; the unkeyed one is queued again.
      assert.deepEqual(await s.enqueueTrials(study.id, items), { added: 1, skipped: 2, waiting: 4 });
      // Keys are per study.
      assert.deepEqual(await s.enqueueTrials(other.study.id, items.slice(0, 1)), { added: 1, skipped: 0, waiting: 1 });
      // Claimed (taken off the queue), the keys still count.
      await claimAll(s, study.id, 4);
      assert.deepEqual(await s.enqueuedTrials(study.id), []);
      assert.deepEqual(await s.enqueueTrials(study.id, [{ params: { lr: 0.1 }, key: 'a#1' }, { params: { lr: 0.2 }, key: 'b#1' }]), { added: 1, skipped: 1, waiting: 1 });
      assert.deepEqual(await s.enqueuedTrials(study.id), [{ lr: 0.2 }]);
      // A bad item fails the whole call: nothing queued, no key recorded.
      await assert.rejects(s.enqueueTrials(study.id, [{ params: { lr: 0.5 }, key: 'c#1' }, { params: null as unknown as Params }]), TypeError);
      assert.deepEqual(await s.enqueueTrials(study.id, [{ params: { lr: 0.5 }, key: 'c#1' }]), { added: 1, skipped: 0, waiting: 2 });
      await assert.rejects(s.enqueueTrials(987654, [{ params: { a: 1 } }]), StorageError);
      assert.deepEqual(await s.enqueueTrials(study.id, []), { added: 0, skipped: 0, waiting: 2 });
    });

    test('rungResults: equal values come back with their numbers, ordered by number; re-run trials keep theirs', async (s) => {
      const { study } = await s.createStudy(spec());
      const ts = await claimAll(s, study.id, 5); // numbers 1..5, brackets 1, 0, 1, 0, 1
      // Report in an order unrelated to the numbers, all at the same value but trial 2.
      for (const i of [4, 2, 0, 3]) await s.recordReport(ts[i]!.id, 1, 2, 0.9);
      await s.recordReport(ts[1]!.id, 1, 2, 0.5);
      assert.deepEqual(await s.rungResults(study.id, 2), [
        { trialNumber: 2, value: 0.5 },
        { trialNumber: 1, value: 0.9 },
        { trialNumber: 3, value: 0.9 },
        { trialNumber: 4, value: 0.9 },
        { trialNumber: 5, value: 0.9 },
      ]);
      assert.deepEqual(await s.rungResults(study.id, 2, 1), [
        { trialNumber: 1, value: 0.9 },
        { trialNumber: 3, value: 0.9 },
        { trialNumber: 5, value: 0.9 },
      ]);
      // Interrupt trial 3 and re-claim it: its reports are gone until the new attempt reports.
      assert.equal(await s.finishTrial(ts[2]!.id, 1, { state: 'interrupted', value: null }), true);
      const again = await s.claimTrial(claimReq(study.id, { maxTrials: 5 }));
      assert.ok(again);
      assert.equal(again.number, 3);
      assert.deepEqual((await s.rungResults(study.id, 2, 1)).map((r) => r.trialNumber), [1, 5]);
      await s.recordReport(again.id, again.attempt, 2, 0.9);
      assert.deepEqual((await s.rungResults(study.id, 2, 1)).map((r) => r.trialNumber), [1, 3, 5]);
    });

    test('bestTrial: lowest completed value, ties by lowest number; stateCounts; listStudies', async (s) => {
      const { study } = await s.createStudy(spec());
      assert.equal(await s.bestTrial(study.id), undefined);
      const ts = await claimAll(s, study.id, 6);
      const fin = async (i: number, state: 'completed' | 'pruned' | 'failed' | 'interrupted', value: number | null): Promise<void> => {
        assert.equal(await s.finishTrial(ts[i]!.id, 1, { state, value }), true);
      };
      await fin(0, 'completed', 0.5);
      await fin(1, 'pruned', 0.1);
      await fin(2, 'completed', 0.3);
      await fin(3, 'completed', 0.3);
      await fin(4, 'failed', null);
      const best = await s.bestTrial(study.id);
      assert.equal(best?.number, 3);
      assert.equal(best?.value, 0.3);
      assert.deepEqual(await s.stateCounts(study.id), { running: 1, completed: 3, pruned: 1, failed: 1, interrupted: 0 });
      await s.interruptOwners(study.id, ['host:1:a'], 'gone');
      assert.deepEqual(await s.stateCounts(study.id), { running: 0, completed: 3, pruned: 1, failed: 1, interrupted: 1 });
      const sum = (await s.listStudies()).find((x) => x.id === study.id);
      assert.ok(sum);
      assert.equal(sum.name, study.name);
      assert.equal(sum.best, 0.3);
      assert.deepEqual(sum.counts, { running: 0, completed: 3, pruned: 1, failed: 1, interrupted: 1 });
      const filtered = await s.getTrials(study.id, { states: ['completed', 'pruned'] });
      assert.deepEqual(filtered.map((t) => t.number), [1, 2, 3, 4]);
    });

    test('heartbeat refreshes only running trials of that owner', async (s) => {
      const { study } = await s.createStudy(spec());
      const [a] = await claimAll(s, study.id, 1, { owner: 'A' });
      const [b] = await claimAll(s, study.id, 1, { owner: 'B' });
      assert.ok(a && b);
      await sleep(120);
      await s.heartbeat('A', [a.id, b.id]);
      await s.heartbeat('A', []);
      const r = await s.claimTrial(claimReq(study.id, { staleAfterMs: 100, owner: 'C' }));
      assert.equal(r?.number, 2); // B went stale; A did not
      const all = await s.getTrials(study.id);
      assert.equal(all[0]!.state, 'running');
      assert.equal(all[0]!.owner, 'A');
      assert.ok(all[0]!.heartbeatAt! > a.heartbeatAt!);
    });

    test('query: plain rows, bigint-safe, JSON columns queryable', async (s) => {
      const { study } = await s.createStudy(spec());
      await claimAll(s, study.id, 2);
      const rows = await s.query(`SELECT number, seed, state FROM trials WHERE study_id = ${study.id} ORDER BY number`);
      assert.equal(rows.length, 2);
      assert.equal(rows[0]!['number'], 1);
      assert.equal(rows[0]!['state'], 'running');
      // 2^53 - 1 is exact as a number; 2^53 (the study seed) is not a safe integer, so a string.
      assert.equal(rows[0]!['seed'], 2 ** 53 - 1);
      const st = await s.query(`SELECT seed FROM studies WHERE id = ${study.id}`);
      assert.equal(String(st[0]!['seed']), '9007199254740992');
      assert.doesNotThrow(() => JSON.stringify(rows));
      assert.deepEqual(await s.query(`SELECT 1 AS one;`), [{ one: 1 }]);
      // Garbage is refused with a typed error (which one may differ by backend).
      await assert.rejects(s.query('SELEC nonsense'), HpoError);
      await assert.rejects(s.query('SELECT * FROM no_such_table'), StorageError);
    });

    test('query refuses every write with ReadOnlyError', async (s) => {
      const { study } = await s.createStudy(spec());
      await claimAll(s, study.id, 1);
      const writes = [
        `INSERT INTO studies (name, objective, space, settings, seed) VALUES ('x', 'o', '{}', '{}', 1)`,
        `UPDATE trials SET state = 'failed'`,
        `DELETE FROM trials`,
        `DROP TABLE reports`,
        `CREATE TABLE evil (x integer)`,
        `PRAGMA user_version = 99`,
        `PRAGMA foreign_keys = OFF`,
        `SELECT 1; DELETE FROM trials`,
        `SELECT 1; SELECT 2`,
        `  -- comment\n  delete from reports`,
        `INSERT INTO reports (trial_id, epoch, value) VALUES (1, 1, 0.5) RETURNING *`,
      ];
      for (const sql of writes) {
        await assert.rejects(s.query(sql), (e: unknown) => {
          assert.ok(e instanceof ReadOnlyError, `${sql}: expected ReadOnlyError, got ${String(e)}`);
          assert.match(e.message, /^hpo sql is read-only: /);
          return true;
        });
      }
      assert.equal((await s.getTrials(study.id))[0]!.state, 'running');
      assert.equal((await s.listStudies()).some((x) => x.name === 'x'), false);
      // Still usable for writes through the normal API afterwards.
      assert.ok(await s.claimTrial(claimReq(study.id)));
    });

    test('a claim repeated with the same token returns the same trial (a retry after a lost answer)', async (s) => {
      const { study } = await s.createStudy(spec());
      let calls = 0;
      const req = claimReq(study.id, { token: 'tok-1', newTrial: (n) => (calls++, { params: { n }, seed: n, bracket: null }) });
      const a = await s.claimTrial(req);
      const b = await s.claimTrial(req);
      assert.ok(a && b);
      assert.equal(b.id, a.id);
      assert.equal(b.attempt, 1);
      assert.equal(calls, 1);
      assert.equal((await s.getTrials(study.id)).length, 1);
      // Another token is another claim; another owner with the same token is not the same claim.
      assert.equal((await s.claimTrial(claimReq(study.id, { token: 'tok-2' })))?.number, 2);
      assert.equal((await s.claimTrial(claimReq(study.id, { token: 'tok-1', owner: 'host:2:b' })))?.number, 3);
      // A finished trial is not returned again for its token.
      assert.equal(await s.finishTrial(a.id, 1, { state: 'completed', value: 0.5 }), true);
      assert.equal((await s.claimTrial(req))?.number, 4);
      // A re-claimed interrupted trial carries the new token.
      const t4 = (await s.getTrials(study.id))[3]!;
      await s.interruptOwners(study.id, ['host:1:a'], 'gone');
      const again = await s.claimTrial(claimReq(study.id, { token: 'tok-3', owner: 'host:3:c' }));
      const same = await s.claimTrial(claimReq(study.id, { token: 'tok-3', owner: 'host:3:c' }));
      assert.equal(again?.id, same?.id);
      assert.equal(again?.attempt, 2);
      assert.ok(t4);
    });

    test("a claimer's own running trials are never stale to it", async (s) => {
      const { study } = await s.createStudy(spec());
      await claimAll(s, study.id, 2);
      await sleep(60);
      const t = await s.claimTrial(claimReq(study.id, { staleAfterMs: 20 }));
      assert.equal(t?.number, 3);
      assert.equal(t?.attempt, 1);
      assert.equal((await s.stateCounts(study.id)).running, 3);
    });

    test('checkpoints: ownership-checked, kept up to their epoch on re-claim, deleted when a trial ends', async (s) => {
      const { study } = await s.createStudy(spec());
      const [a, b] = await claimAll(s, study.id, 2);
      assert.ok(a && b);
      const bytes = (k: number): Uint8Array => Uint8Array.from({ length: 1000 }, (_, i) => (i * k) & 255);
      for (let e = 1; e <= 3; e++) assert.equal(await s.recordReport(a.id, 1, e, 1 - e / 10), true);
      assert.equal(await s.saveCheckpoint(a.id, 1, 2, bytes(2)), true);
      assert.equal(await s.saveCheckpoint(a.id, 2, 2, bytes(9)), false, 'wrong attempt');
      assert.deepEqual(await s.loadCheckpoint(a.id), { epoch: 2, data: bytes(2) });
      assert.equal(await s.loadCheckpoint(b.id), undefined);
      // Interrupted: the checkpoint stays; the re-claim keeps the reports up to epoch 2.
      assert.equal(await s.finishTrial(a.id, 1, { state: 'interrupted', value: null }), true);
      const r = await s.claimTrial(claimReq(study.id, { owner: 'host:2:b' }));
      assert.equal(r?.id, a.id);
      assert.equal(r?.attempt, 2);
      assert.equal(r?.epochs, 2);
      assert.deepEqual((await s.getReports(study.id, { trialId: a.id })).map((x) => x.epoch), [1, 2]);
      assert.equal(await s.saveCheckpoint(a.id, 1, 3, bytes(3)), false, 'the old attempt cannot write');
      assert.equal(await s.saveCheckpoint(a.id, 2, 3, bytes(3)), true);
      assert.deepEqual(await s.loadCheckpoint(a.id), { epoch: 3, data: bytes(3) });
      // Completed: deleted; with keepCheckpoint: kept.
      assert.equal(await s.finishTrial(a.id, 2, { state: 'completed', value: 0.1 }), true);
      assert.equal(await s.loadCheckpoint(a.id), undefined);
      assert.equal(await s.saveCheckpoint(b.id, 1, 1, bytes(5)), true);
      assert.equal(await s.finishTrial(b.id, 1, { state: 'failed', value: null, error: 'x', keepCheckpoint: true }), true);
      assert.deepEqual(await s.loadCheckpoint(b.id), { epoch: 1, data: bytes(5) });
      // Without a checkpoint, a re-claim clears every report as before.
      const [c] = await claimAll(s, study.id, 1);
      assert.ok(c);
      await s.recordReport(c.id, 1, 1, 0.5);
      await s.interruptOwners(study.id, ['host:1:a'], 'gone');
      const c2 = await s.claimTrial(claimReq(study.id));
      assert.equal(c2?.id, c.id);
      assert.equal(c2?.epochs, 0);
      assert.deepEqual(await s.getReports(study.id, { trialId: c.id }), []);
    });

    test('concurrency: 3 claimers racing for 30 trials get 30 distinct dense numbers', async (s) => {
      const { study } = await s.createStudy(spec());
      const claimer = async (owner: string): Promise<number[]> => {
        const got: number[] = [];
        for (;;) {
          const t = await s.claimTrial(claimReq(study.id, { owner, maxTrials: 30 }));
          if (t === null) return got;
          got.push(t.number);
          assert.equal(await s.recordReport(t.id, t.attempt, 1, t.number), true);
          assert.equal(await s.finishTrial(t.id, t.attempt, { state: 'completed', value: t.number }), true);
        }
      };
      const got = await Promise.all(['w1', 'w2', 'w3'].map(claimer));
      const all = got.flat().sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: 30 }, (_, i) => i + 1));
      assert.equal((await s.stateCounts(study.id)).completed, 30);
    });
  });
}
