/**
 * Faults a long study meets: a hung trial, a runaway trial, the process killed with -9 in
 * the middle of an epoch, and the disk filling up. Each runs the real CLI.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CLI, dbRows, FIXTURES, hpo, tempDb } from './helpers.js';

const objective = join(FIXTURES, 'objective-faults.mjs');
const space = join(FIXTURES, 'space-slow.json');
const userRun = (db: string, trials: number, epochs: number, extra: string[] = []): string[] => [
  'run', '--storage', db, '--objective', objective, '--space', space, '--trials', String(trials), '--epochs', String(epochs),
  '--workers', '2', '--seed', '11', ...extra,
];

interface TrialRow {
  number: number;
  state: string;
  value: number | null;
  error: string | null;
  attempt: number;
}

const trials = (db: string): TrialRow[] => dbRows<TrialRow>(db, 'SELECT number, state, value, error, attempt FROM trials ORDER BY number');

function start(args: readonly string[], env: NodeJS.ProcessEnv = {}): { p: ChildProcess; err: () => string; exited: Promise<unknown> } {
  const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  // Listened for at once: the process may end before the test waits for it.
  const exited = once(p, 'exit');
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  p.stdout!.resume();
  return { p, err: () => err, exited };
}

/** Poll `check` every 10 ms until it is true (or fail after `ms`). */
async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    let ok = false;
    try {
      ok = check();
    } catch {
      // the database may not exist yet
    }
    if (ok) return;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('hung and runaway trials', () => {
  it('--trial-timeout: a trial stuck in a loop fails "timed out after N s", its thread is replaced, the study goes on', () => {
    const db = tempDb('hang');
    const t0 = Date.now();
    const r = hpo(userRun(db, 5, 3, ['--trial-timeout', '1.5']), { env: { HPO_FAULT: 'hang:2' }, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const rows = trials(db);
    assert.deepEqual(rows.map((x) => x.state), ['completed', 'failed', 'completed', 'completed', 'completed']);
    assert.equal(rows[1]!.error, 'timed out after 1.5 s');
    assert.ok(Date.now() - t0 < 30_000);
  });

  it('--trial-timeout with sh: a trial parked on the stopped thread is interrupted and runs again, not failed', () => {
    const db = tempDb('hang-sh');
    const r = hpo(
      ['run', '--storage', db, '--objective', objective, '--space', space, '--trials', '4', '--epochs', '2', '--scheduler', 'sh', '--min-epochs', '1',
        '--workers', '1', '--seed', '1', '--trial-timeout', '1.5'],
      { env: { HPO_FAULT: 'hang:2' }, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const rows = trials(db);
    assert.equal(rows[1]!.state, 'failed');
    assert.equal(rows[1]!.error, 'timed out after 1.5 s');
    // Trial 1 was parked at its rung on the same thread when it was stopped.
    assert.match(r.stderr, /trial 1 interrupted: its thread was stopped because another trial on it timed out/);
    assert.equal(rows[0]!.attempt, 2);
    assert.ok(rows.every((x) => x.number === 2 || x.state === 'completed' || x.state === 'pruned'), JSON.stringify(rows));
  });

  it('--worker-memory: a trial that allocates without end fails "out of memory", the study goes on', () => {
    const db = tempDb('runaway');
    const r = hpo(userRun(db, 5, 3, ['--worker-memory', '128']), { env: { HPO_FAULT: 'runaway:3' }, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const rows = trials(db);
    assert.deepEqual(rows.map((x) => x.state), ['completed', 'completed', 'failed', 'completed', 'completed']);
    assert.match(rows[2]!.error ?? '', /^out of memory/);
  });
});

describe('kill -9 in the middle of an epoch, then resume from the checkpoint', () => {
  it('user objective (ctx.checkpoint / ctx.restore): the resumed trial trains only the epochs after its checkpoint', async () => {
    const db = tempDb('kill-user');
    const log = join(mkdtempSync(join(tmpdir(), 'hpo-kill-log-')), 'epochs.log');
    const env = { HPO_FAULT_LOG: log, HPO_FAULT_EPOCH_MS: '300' };
    const args = ['run', '--storage', db, '--objective', objective, '--space', space, '--trials', '1', '--epochs', '8', '--workers', '1', '--seed', '4'];
    const { p, err, exited } = start(args, env);
    await until('the checkpoint of epoch 7', 60_000, () => dbRows<{ epoch: number }>(db, 'SELECT epoch FROM checkpoints')[0]?.epoch === 7);
    p.kill('SIGKILL');
    await exited;
    assert.equal(trials(db)[0]!.state, 'running', err());
    const r = hpo(args, { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /trial 1 resumes from its checkpoint after epoch 7/);
    const row = trials(db)[0]!;
    assert.equal(row.state, 'completed');
    assert.equal(row.attempt, 2);
    // Every epoch trained exactly once across both processes: epoch 8 only after the resume.
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['1 1', '1 2', '1 3', '1 4', '1 5', '1 6', '1 7', '1 8']);
    // The same value as an uninterrupted run.
    const clean = tempDb('kill-user-clean');
    assert.equal(hpo(args.map((a) => (a === db ? clean : a))).code, 0);
    assert.ok(Math.abs(trials(clean)[0]!.value! - row.value!) < 1e-12);
    assert.equal(dbRows(db, 'SELECT * FROM checkpoints').length, 0, 'the finished trial checkpoint is deleted');
  });

  it('built-in mlp with dropout: killed in epoch 8 of 8, it trains epoch 8 only and ends equal to an uninterrupted run', async () => {
    const db = tempDb('kill-mlp');
    const clean = tempDb('kill-mlp-clean');
    const args = (file: string): string[] => [
      'run', '--storage', file, '--model', 'mlp', '--trials', '1', '--epochs', '8', '--train-subset', '5000', '--workers', '1', '--seed', '5',
      '--keep-checkpoints',
    ];
    const { p, err, exited } = start(args(db));
    await until('the checkpoint of epoch 7', 120_000, () => dbRows<{ epoch: number }>(db, 'SELECT epoch FROM checkpoints')[0]?.epoch === 7);
    const killedAt = new Date().toISOString();
    p.kill('SIGKILL');
    await exited;
    assert.equal(dbRows<{ n: number }>(db, 'SELECT max(epoch) AS n FROM reports')[0]!.n, 7, `killed after epoch 8 was stored: ${err()}`);
    const r = hpo(args(db));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /trial 1 resumes from its checkpoint after epoch 7/);
    const reports = dbRows<{ epoch: number; value: number; created_at: string }>(db, 'SELECT epoch, value, created_at FROM reports ORDER BY epoch');
    assert.deepEqual(reports.map((x) => x.epoch), [1, 2, 3, 4, 5, 6, 7, 8]);
    // Epochs 1-7 are the first process's; only epoch 8 was trained after the kill.
    assert.ok(reports.slice(0, 7).every((x) => x.created_at < killedAt));
    assert.ok(reports[7]!.created_at > killedAt);

    assert.equal(hpo(args(clean)).code, 0);
    const want = dbRows<{ epoch: number; value: number }>(clean, 'SELECT epoch, value FROM reports ORDER BY epoch');
    assert.deepEqual(reports.map((x) => x.epoch), want.map((x) => x.epoch));
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(reports[i]!.value - want[i]!.value) < 1e-6, `epoch ${i + 1}`);
    assert.ok(Math.abs(trials(db)[0]!.value! - trials(clean)[0]!.value!) < 1e-6);
    // The weights after epoch 7 are bit-identical in both runs (kept by --keep-checkpoints).
    const weights = (file: string): Buffer => dbRows<{ data: Buffer }>(file, 'SELECT data FROM checkpoints')[0]!.data;
    assert.ok(weights(db).equals(weights(clean)));
  });
});

describe('disk full', () => {
  it('the run stops with one clear error, the database stays intact, and resumes once space is freed', { skip: process.getuid?.() === 0 ? false : 'mounting a tmpfs needs root' }, async (t) => {
    const mnt = mkdtempSync(join(tmpdir(), 'hpo-full-'));
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status !== 0) {
      rmSync(mnt, { recursive: true, force: true });
      t.skip('this sandbox cannot mount a tmpfs');
      return;
    }
    try {
      const db = join(mnt, 'study.db');
      // 64 KiB checkpoints: a 1 MiB file system fills within a few trials.
      const env = { HPO_FAULT_CHECKPOINT_BYTES: String(64 * 1024), HPO_FAULT_EPOCH_MS: '5' };
      const full = hpo(userRun(db, 30, 6), { env });
      assert.notEqual(full.code, 0, full.stderr);
      const errLines = full.stderr.split('\n').filter((l) => l.startsWith('hpo: '));
      assert.equal(errLines.length, 1, full.stderr);
      assert.match(errLines[0]!, /disk is full/);
      assert.doesNotMatch(full.stderr, /\n\s+at /);
      const conn = new Database(db, { readonly: true });
      assert.equal(conn.pragma('integrity_check', { simple: true }), 'ok');
      conn.close();
      const done = trials(db).filter((x) => x.state === 'completed').length;
      assert.ok(done < 30, 'the disk filled before the study ended');
      // Free space: grow the file system; the same command finishes the study.
      assert.equal(spawnSync('mount', ['-o', 'remount,size=64m', mnt]).status, 0);
      const again = hpo(userRun(db, 30, 6), { env });
      assert.equal(again.code, 0, again.stderr);
      const rows = trials(db);
      assert.equal(rows.length, 30);
      assert.ok(rows.every((x) => x.state === 'completed'), JSON.stringify(rows.filter((x) => x.state !== 'completed')));
    } finally {
      spawnSync('umount', [mnt]);
      if (existsSync(mnt)) rmSync(mnt, { recursive: true, force: true });
    }
  });
});

describe('a file system that turns read-only mid-study (ext4 on a loop device, errors=remount-ro)', () => {
  const root = process.getuid?.() === 0;
  const tools = ['losetup', 'mkfs.ext4', 'e2fsck'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
  it('stops with one clear error; the database stays intact with the work of all but the last heartbeat; resume finishes it', { skip: root && tools ? false : 'needs root, losetup, mkfs.ext4 and e2fsck' }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hpo-ro-'));
    const img = join(dir, 'fs.img');
    const mnt = join(dir, 'mnt');
    const sh = (cmd: string): string => {
      const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
      return r.stdout.trim();
    };
    sh(`truncate -s 32M ${img} && mkfs.ext4 -q ${img} && mkdir ${mnt}`);
    const loop = spawnSync('losetup', ['-f', '--show', img], { encoding: 'utf8' });
    if (loop.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      t.skip(`no loop device here (${loop.stderr.trim()})`);
      return;
    }
    const dev = loop.stdout.trim();
    try {
      sh(`mount -o errors=remount-ro ${dev} ${mnt}`);
      const db = join(mnt, 'study.db');
      const args = userRun(db, 40, 6, ['--heartbeat', '1']);
      const { err, exited } = start(args, { HPO_FAULT_EPOCH_MS: '50' });
      await until('3 completed trials', 60_000, () => dbRows<{ n: number }>(db, "SELECT count(*) AS n FROM trials WHERE state = 'completed'")[0]!.n >= 3);
      await new Promise((r) => setTimeout(r, 2500)); // two heartbeats: their work is on disk
      // What the kernel does on a real I/O error: ext4 aborts its journal and goes read-only.
      sh(`echo 1 > /sys/fs/ext4/${dev.replace('/dev/', '')}/trigger_fs_error`);
      const [code] = (await exited) as [number | null];
      assert.notEqual(code, 0, err());
      const errLines = err().split('\n').filter((l) => l.startsWith('hpo: '));
      assert.equal(errLines.length, 1, err());
      assert.match(errLines[0]!, /I\/O error|read-only/);
      assert.doesNotMatch(err(), /\n\s+at /);
      // Repair as an operator would: unmount, fsck, mount again.
      sh(`umount ${mnt}`);
      spawnSync('e2fsck', ['-fy', dev]);
      sh(`mount -o errors=remount-ro ${dev} ${mnt}`);
      let kept: number;
      const conn = new Database(db, { readonly: true });
      try {
        assert.equal(conn.pragma('integrity_check', { simple: true }), 'ok');
        kept = (conn.prepare("SELECT count(*) AS n FROM trials WHERE state = 'completed'").get() as { n: number }).n;
      } finally {
        conn.close(); // else the file system cannot be unmounted below
      }
      assert.ok(kept >= 1, 'work synced at a heartbeat survived');
      const again = hpo(args, { env: { HPO_FAULT_EPOCH_MS: '5' } });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, new RegExp(`resuming: ${kept} completed`));
      const rows = trials(db);
      assert.equal(rows.length, 40);
      assert.ok(rows.every((x) => x.state === 'completed'));
    } finally {
      spawnSync('umount', [mnt]);
      spawnSync('losetup', ['-d', dev]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
