import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openStorage } from '../../src/storage/open.js';
import type { TrialRecord } from '../../src/storage/storage.js';
import { FIXTURES, hpo, hpoAsync, tempDb } from './helpers.js';

const PG_URL = process.env['HPO_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = 24;

function runArgs(storage: string): string[] {
  return [
    'run', '--study', 'mp', '--storage', storage, '--objective', join(FIXTURES, 'objective-slow.mjs'), '--space', join(FIXTURES, 'space-slow.json'),
    '--trials', String(N), '--epochs', '5', '--workers', '2', '--seed', '9', '--heartbeat', '0.5', '--stale-after', '3',
  ];
}

async function trialsOf(storage: string): Promise<TrialRecord[]> {
  const s = await openStorage(storage);
  try {
    const study = await s.getStudy('mp');
    return study ? await s.getTrials(study.id) : [];
  } finally {
    await s.close();
  }
}

/**
 * Three `hpo run` processes on one study; once the victim owns a running trial it is
 * killed with SIGKILL. The two others must finish the study, re-running the victim's trial.
 */
async function threeProcessesOneKilled(storage: string): Promise<void> {
  const procs: ChildProcess[] = [];
  const errs: string[] = ['', '', ''];
  for (let i = 0; i < 3; i++) {
    const p = hpoAsync(runArgs(storage));
    p.stderr!.on('data', (d: Buffer) => (errs[i] += d.toString()));
    procs.push(p);
    if (i === 0) await new Promise((r) => setTimeout(r, 1500)); // the first creates the study
  }
  const victim = procs[2]!;
  const victimOwner = `:${victim.pid}:`;
  let killedTrials: number[] = [];
  const deadline = Date.now() + 60_000;
  while (killedTrials.length === 0) {
    assert.ok(Date.now() < deadline, `victim never ran a trial: ${errs[2]}`);
    await new Promise((r) => setTimeout(r, 100));
    const ts = await trialsOf(storage).catch(() => []);
    killedTrials = ts.filter((t) => t.state === 'running' && t.owner?.includes(victimOwner)).map((t) => t.number);
  }
  victim.kill('SIGKILL');
  const codes = await Promise.all(procs.slice(0, 2).map(async (p) => (p.exitCode ?? (await once(p, 'exit'))[0]) as number));
  assert.deepEqual(codes, [0, 0], errs.join('\n'));

  const trials = await trialsOf(storage);
  assert.deepEqual(trials.map((t) => t.number), Array.from({ length: N }, (_, i) => i + 1), 'numbers unique and dense');
  assert.ok(trials.every((t) => t.state === 'completed'), trials.map((t) => `${t.number}:${t.state}`).join(' '));
  for (const n of killedTrials) {
    const t = trials.find((x) => x.number === n)!;
    assert.ok(t.attempt >= 2, `trial ${n} that the killed process ran was run again (attempt ${t.attempt})`);
    assert.ok(!t.owner?.includes(victimOwner));
  }
  const owners = new Set(trials.map((t) => t.owner!.split(':')[1]));
  assert.ok(owners.size >= 2, 'both survivors worked');
  // configs depend on (seed, number) only: the same as a single-process run
  const solo = tempDb('solo');
  assert.equal(hpo(runArgs(solo).map((a) => (a === String(N) ? '4' : a))).code, 0);
  const soloTrials = await trialsOf(solo);
  for (const t of soloTrials) assert.deepEqual(trials[t.number - 1]!.params, t.params);
}

describe('several processes on one SQLite study', () => {
  it('3 processes, one killed mid-trial: every trial completed exactly once', async () => {
    await threeProcessesOneKilled(tempDb('mp'));
  });
});

describe('several processes on one PostgreSQL study', () => {
  let url = '';
  let skipReason: string | undefined;
  const schema = `hpo_mp_${process.pid}_${Date.now()}`;
  before(async () => {
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.end();
      const u = new URL(PG_URL);
      u.searchParams.set('options', `-c search_path=${schema}`);
      url = u.href;
    } catch (e) {
      skipReason = `no PostgreSQL at ${PG_URL} (${(e as Error).message}); set HPO_TEST_PG_URL to run these tests`;
      await c.end().catch(() => {});
    }
  });
  after(async () => {
    if (skipReason) return;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA ${schema} CASCADE`);
    await c.end();
  });
  it('3 processes, one killed mid-trial: every trial completed exactly once', async (t) => {
    if (skipReason) {
      t.diagnostic(skipReason);
      process.stderr.write(`SKIPPED: ${skipReason}\n`);
      return t.skip(skipReason);
    }
    await threeProcessesOneKilled(url);
    // every command works on PostgreSQL
    for (const args of [['best', '--study', 'mp', '--json'], ['trials', '--study', 'mp'], ['studies'], ['sql', 'SELECT count(*) AS n FROM trials'], ['info']]) {
      const r = hpo([...args, '--storage', url]);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const w = hpo(['sql', '--storage', url, 'DELETE FROM trials']);
    assert.notEqual(w.code, 0);
    assert.match(w.stderr, /read-only/);
  });
});
