import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { StorageError } from '../../src/errors.js';
import { openStorage } from '../../src/storage/open.js';
import { backoffMs, RetryingStorage, type RetryEvent } from '../../src/storage/retry.js';
import { SqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/storage.js';
import { isTransient } from '../../src/storage/transient.js';
import { claimReq, spec } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'hpo-retry-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = (): string => join(dir, `r${++n}.db`);

const coded = (code: string, message = code): Error => Object.assign(new Error(message), { code });

describe('isTransient', () => {
  const cases: [string, unknown, boolean][] = [
    ['connection refused', coded('ECONNREFUSED'), true],
    ['connection reset', coded('ECONNRESET'), true],
    ['admin shutdown 57P01', coded('57P01', 'terminating connection due to administrator command'), true],
    ['crash shutdown 57P02', coded('57P02'), true],
    ['cannot connect now 57P03', coded('57P03', 'the database system is starting up'), true],
    ['serialization failure 40001', coded('40001'), true],
    ['deadlock 40P01', coded('40P01'), true],
    ['connection exception class 08 (08006)', coded('08006'), true],
    ['pg: Connection terminated unexpectedly', new Error('Connection terminated unexpectedly'), true],
    ['pg: connect timeout', new Error('timeout exceeded when trying to connect'), true],
    ['SQLITE_BUSY past the busy timeout', coded('SQLITE_BUSY', 'database is locked'), true],
    ['wrapped in a StorageError (cause chain)', new StorageError('claimTrial: x', undefined, undefined, { cause: coded('ECONNREFUSED') }), true],
    ['AggregateError of connect attempts', Object.assign(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], ''), {}), true],
    ['disk full', coded('SQLITE_FULL', 'database or disk is full'), false],
    ['read-only database', coded('SQLITE_READONLY', 'attempt to write a readonly database'), false],
    ['I/O error', coded('SQLITE_IOERR_WRITE'), false],
    ['syntax error 42601', coded('42601'), false],
    ['unique violation 23505', coded('23505'), false],
    ['authentication 28P01', coded('28P01'), false],
    ['read-only transaction 25006', coded('25006'), false],
    ['host not found', coded('ENOTFOUND'), false],
    ['a plain bug', new TypeError('x is not a function'), false],
    ['not an error', 'oops', false],
  ];
  for (const [name, e, want] of cases) {
    it(`${name} -> ${want ? 'transient' : 'permanent'}`, () => assert.equal(isTransient(e), want));
  }
});

describe('backoffMs (full jitter, capped)', () => {
  it('stays within [0, min(max, base * 2^attempt)] and spreads over it', () => {
    for (const attempt of [0, 1, 3, 10, 40]) {
      const ceiling = Math.min(5000, 100 * 2 ** attempt);
      const xs = Array.from({ length: 400 }, () => backoffMs(attempt, 100, 5000));
      assert.ok(xs.every((x) => Number.isInteger(x) && x >= 0 && x <= ceiling), `attempt ${attempt}`);
      // Full jitter: both halves of the range are used (probability of failure ~2^-400).
      assert.ok(xs.some((x) => x < ceiling / 2) && xs.some((x) => x > ceiling / 2), `attempt ${attempt} spread`);
    }
  });
});

/** A storage whose next `failures` calls of the named methods fail with `error` before reaching the database. */
function flaky(inner: Storage, methods: readonly string[], failures: { left: number }, error: () => unknown): Storage {
  return new Proxy(inner, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (methods.includes(String(prop)) && failures.left > 0) {
          failures.left--;
          return Promise.reject(error());
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Like flaky, but the call reaches the database and only its answer is lost. */
function lostAnswers(inner: Storage, method: string, failures: { left: number }): Storage {
  return new Proxy(inner, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        const r = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (String(prop) === method && failures.left > 0) {
          failures.left--;
          throw coded('ECONNRESET', 'read ECONNRESET');
        }
        return r;
      };
    },
  });
}

describe('RetryingStorage', () => {
  it('rides through transient failures, reports the outage, and recovers', async () => {
    const base = SqliteStorage.open(freshPath());
    const failures = { left: 4 };
    const events: RetryEvent[] = [];
    const s = new RetryingStorage(flaky(base, ['createStudy', 'claimTrial', 'recordReport'], failures, () => coded('ECONNREFUSED')), {
      budgetMs: 10_000,
      baseDelayMs: 5,
      maxDelayMs: 20,
      onEvent: (e) => events.push(e),
    });
    try {
      const { study } = await s.createStudy(spec());
      const t = await s.claimTrial(claimReq(study.id));
      assert.ok(t);
      assert.equal(await s.recordReport(t.id, 1, 1, 0.5), true);
      assert.equal(failures.left, 0);
      assert.equal(events.filter((e) => e.type === 'retrying').length, 4);
      assert.equal(events.at(-1)?.type, 'recovered');
      assert.equal((await base.getTrials(study.id)).length, 1);
    } finally {
      await s.close();
    }
  });

  it('a claim whose answer was lost is not claimed twice on retry', async () => {
    const base = SqliteStorage.open(freshPath());
    const failures = { left: 2 };
    const s = new RetryingStorage(lostAnswers(base, 'claimTrial', failures), { budgetMs: 10_000, baseDelayMs: 1, maxDelayMs: 5 });
    try {
      const { study } = await s.createStudy(spec());
      const a = await s.claimTrial(claimReq(study.id));
      const b = await s.claimTrial(claimReq(study.id));
      assert.equal(failures.left, 0);
      assert.deepEqual([a?.number, b?.number], [1, 2]);
      const rows = await base.getTrials(study.id);
      assert.deepEqual(rows.map((r) => [r.number, r.state, r.attempt]), [[1, 'running', 1], [2, 'running', 1]]);
      // A report and a finish whose answers were lost are applied once.
      const again = { left: 1 };
      const s2 = new RetryingStorage(lostAnswers(base, 'recordReport', again), { budgetMs: 10_000, baseDelayMs: 1 });
      assert.equal(await s2.recordReport(a!.id, 1, 1, 0.25), true);
      assert.deepEqual((await base.getReports(study.id, { trialId: a!.id })).map((r) => [r.epoch, r.value]), [[1, 0.25]]);
    } finally {
      await s.close();
    }
  });

  it('past the budget: one StorageError naming the cause and the flag; permanent errors are not retried', async () => {
    const base = SqliteStorage.open(freshPath());
    const events: RetryEvent[] = [];
    const s = new RetryingStorage(flaky(base, ['getStudy'], { left: 1e9 }, () => coded('57P01', 'terminating connection due to administrator command')), {
      budgetMs: 150,
      baseDelayMs: 10,
      onEvent: (e) => events.push(e),
    });
    const p = new RetryingStorage(flaky(base, ['getStudy'], { left: 1 }, () => coded('SQLITE_FULL', 'database or disk is full')), { budgetMs: 10_000 });
    try {
      const t0 = Date.now();
      await assert.rejects(s.getStudy('x'), (e: unknown) => {
        assert.ok(e instanceof StorageError);
        assert.match(e.message, /administrator command.*gave up after retrying for 0 s.*--db-retry/);
        return true;
      });
      assert.ok(Date.now() - t0 >= 150);
      assert.ok(events.length >= 2 && events.every((e) => e.type === 'retrying'));
      await assert.rejects(p.getStudy('x'), /disk is full/);
    } finally {
      await s.close();
    }
  });

  it('SQLite locked by another process for longer than the busy timeout: the call waits it out', async () => {
    const path = freshPath();
    const setup = await openStorage(path);
    const { study } = await setup.createStudy(spec());
    await setup.close();
    // Another process takes the write lock and holds it for 1.5 s.
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import Database from 'better-sqlite3';
         const db = new Database(${JSON.stringify(path)});
         db.exec('BEGIN IMMEDIATE');
         process.stdout.write('locked\\n');
         setTimeout(() => { db.exec('COMMIT'); db.close(); }, 1500);`,
      ],
      { cwd: fileURLToPath(new URL('../../../', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    // Listen for the exit now: it may come before the test gets to wait for it.
    const exited = once(holder, 'exit');
    await once(holder.stdout!, 'data');
    const events: RetryEvent[] = [];
    // busy timeout 100 ms: SQLITE_BUSY surfaces many times before the lock is released.
    const plain = SqliteStorage.open(path, { busyTimeoutMs: 100 });
    const s = new RetryingStorage(plain, { budgetMs: 20_000, baseDelayMs: 50, maxDelayMs: 200, onEvent: (e) => events.push(e) });
    const noRetry = SqliteStorage.open(path, { busyTimeoutMs: 100 });
    try {
      await assert.rejects(noRetry.claimTrial(claimReq(study.id)), /database is locked/, 'without retries the lock is fatal');
      const t0 = Date.now();
      const t = await s.claimTrial(claimReq(study.id));
      assert.equal(t?.number, 1);
      assert.ok(Date.now() - t0 >= 500, 'waited for the other process');
      assert.ok(events.some((e) => e.type === 'retrying' && /locked/.test(e.message)));
      assert.equal(events.at(-1)?.type, 'recovered');
    } finally {
      await s.close();
      await noRetry.close();
      await exited;
    }
  });
});
