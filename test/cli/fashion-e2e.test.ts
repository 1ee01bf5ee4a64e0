import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEBIAN_DIR, locateFashionMnist } from '../../src/data/fashion-mnist.js';
import { dbRows, hpo, isOneLineError, killWhen, tempDb } from './helpers.js';

const haveData = locateFashionMnist({ fallbacks: [{ dir: DEBIAN_DIR, source: 'debian' }] }) !== undefined || existsSync(DEBIAN_DIR);
const skip = !haveData && 'Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)';

interface TrialRow {
  number: number;
  state: string;
  value: number | null;
  params: string;
  attempt: number;
  finished_at: string | null;
}

function trials(db: string): TrialRow[] {
  return dbRows<TrialRow>(db, 'SELECT number, state, value, params, attempt, finished_at FROM trials ORDER BY number');
}

describe('hpo run on Fashion-MNIST (end to end)', { skip }, () => {
  const db = tempDb('e2e');
  const args = ['--study', 's1', '--storage', db];

  it('runs a softmax study on 2 workers and stores every trial and epoch', () => {
    const r = hpo(['run', ...args, '--model', 'softmax', '--trials', '4', '--epochs', '2', '--train-subset', '3000', '--workers', '2', '--seed', '7']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /backend (tensorflow|wasm|cpu)/);
    assert.match(r.stdout, /best: trial \d+, value 0\.\d+/);
    assert.match(r.stdout, /find it with: hpo sql/);
    const rows = trials(db);
    assert.deepEqual(rows.map((t) => [t.number, t.state]), [1, 2, 3, 4].map((n) => [n, 'completed']));
    const reports = dbRows<{ number: number; epoch: number; value: number }>(db, 'SELECT t.number, r.epoch, r.value FROM reports r JOIN trials t ON t.id = r.trial_id ORDER BY t.number, r.epoch');
    assert.equal(reports.length, 8, 'one report per epoch');
    for (const t of rows) {
      const last = reports.filter((x) => x.number === t.number).at(-1)!;
      assert.equal(last.epoch, 2);
      assert.equal(last.value, t.value, 'the objective is the validation error after the last epoch');
      assert.ok(t.value! > 0 && t.value! < 1);
    }
  });

  it('hpo best --json gives the lowest completed value', () => {
    const r = hpo(['best', ...args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const best = JSON.parse(r.stdout) as { number: number; value: number; params: Record<string, number> };
    const min = Math.min(...trials(db).map((t) => t.value!));
    assert.equal(best.value, min);
    assert.ok(best.value < 0.35, `softmax on 3000 images should reach < 0.35 validation error, got ${best.value}`);
    assert.equal(typeof best.params['learning_rate'], 'number');
  });

  it('hpo trials, studies and sql answer', () => {
    const t = hpo(['trials', ...args, '--json']);
    assert.equal(t.code, 0, t.stderr);
    assert.equal((JSON.parse(t.stdout) as unknown[]).length, 4);
    const c = hpo(['trials', ...args, '--csv']);
    assert.match(c.stdout.split('\n')[0]!, /^number,state,value,epochs,attempt,learning_rate/);
    const s = hpo(['studies', '--storage', db]);
    assert.match(s.stdout, /s1\s+softmax\s+4/);
    const q = hpo(['sql', '--storage', db, '--json', 'SELECT number, value FROM trials ORDER BY value LIMIT 3']);
    assert.equal(q.code, 0, q.stderr);
    const rows = JSON.parse(q.stdout) as { number: number; value: number }[];
    assert.equal(rows.length, 3);
    assert.ok(rows[0]!.value <= rows[1]!.value && rows[1]!.value <= rows[2]!.value);
    const del = hpo(['sql', '--storage', db, 'DELETE FROM trials']);
    assert.ok(isOneLineError(del), del.stderr);
    assert.equal(trials(db).length, 4);
  });

  it('refuses to continue the study with another model', () => {
    const r = hpo(['run', ...args, '--model', 'mlp', '--trials', '5']);
    assert.ok(isOneLineError(r), r.stderr);
    assert.match(r.stderr, /created with model softmax; refusing to continue it with model mlp/);
  });
});

describe('kill -9 in the middle of a study, then resume', { skip }, () => {
  it('loses and duplicates nothing and re-runs the interrupted configs', async () => {
    const db = tempDb('crash');
    const N = 6;
    // --pack 1: trials finish one by one, so the kill lands between completions (a packed
    // study's kill -9 is tested in test/study/pack-runner.test.ts).
    // All 60k images: a trial takes ~0.4 s, so the study lasts long enough to be killed
    // between completions (on 4000 images the whole study took a few polls).
    const args = ['run', '--study', 'crash', '--storage', db, '--model', 'softmax', '--trials', String(N), '--epochs', '3', '--workers', '2', '--seed', '11', '--pack', '1'];
    // Wait until at least two trials completed and some are running, then kill -9.
    await killWhen(
      args,
      db,
      () => {
        const rows = trials(db);
        const done = rows.filter((t) => t.state === 'completed').length;
        return done >= 2 && done < N && rows.some((t) => t.state === 'running');
      },
      { pollMs: 20 },
    );
    const before = trials(db);
    const completedBefore = before.filter((t) => t.state === 'completed');
    const runningBefore = before.filter((t) => t.state === 'running');
    assert.ok(runningBefore.length >= 1, 'killed while trials were running');

    const r = hpo(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming: \d+ completed trial\(s\) kept, \d+ interrupted trial\(s\) will run again/);
    const after = trials(db);
    assert.deepEqual(after.map((t) => t.number), Array.from({ length: N }, (_, i) => i + 1), 'numbers dense, none duplicated');
    assert.ok(after.every((t) => t.state === 'completed'), `all completed: ${after.map((t) => t.state).join(',')}`);
    for (const c of completedBefore) {
      const a = after.find((t) => t.number === c.number)!;
      assert.deepEqual(a, c, `completed trial ${c.number} kept as it was, not re-run`);
    }
    for (const k of runningBefore) {
      const a = after.find((t) => t.number === k.number)!;
      assert.equal(a.params, k.params, 'the interrupted config ran again');
      assert.equal(a.attempt, 2, `trial ${k.number} ran a second time`);
    }
    assert.deepEqual(dbRows(db, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    const dup = dbRows(db, 'SELECT trial_id, epoch, count(*) AS n FROM reports GROUP BY trial_id, epoch HAVING n > 1');
    assert.deepEqual(dup, []);
    assert.deepEqual(dbRows(db, 'SELECT count(*) AS n FROM reports'), [{ n: N * 3 }]);
  });
});
