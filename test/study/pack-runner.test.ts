import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEBIAN_DIR, locateFashionMnist } from '../../src/data/fashion-mnist.js';
import { openStudy, type OptimizeEvent } from '../../src/index.js';
import { choosePack } from '../../src/study/pack-runner.js';
import { UsageError } from '../../src/errors.js';
import { dbRows, hpo, isOneLineError, killWhen } from '../cli/helpers.js';

const haveData = locateFashionMnist({ fallbacks: [{ dir: DEBIAN_DIR, source: 'debian' }] }) !== undefined || existsSync(DEBIAN_DIR);
const skip = !haveData && 'Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)';
const tempDb = (name: string): string => join(mkdtempSync(join(tmpdir(), 'hpo-pack-')), `${name}.db`);
const forced = process.env['HPO_TEST_BACKEND'];
const backend = forced === 'cpu' || forced === 'wasm' ? forced : 'auto';

describe('choosePack', () => {
  it('auto packs the built-in models where measured faster, never user objectives', () => {
    assert.equal(choosePack('auto', { objective: 'fashion-mnist', model: 'softmax' }) > 1, true);
    assert.equal(choosePack(undefined, { objective: '/x/obj.mjs', model: null }), 1);
    assert.equal(choosePack(3, { objective: 'fashion-mnist', model: 'mlp' }), 3);
    assert.equal(choosePack(1, { objective: '/x/obj.mjs', model: null }), 1);
    assert.throws(() => choosePack(2, { objective: '/x/obj.mjs', model: null }), UsageError);
    assert.throws(() => choosePack(0, { objective: 'fashion-mnist', model: 'softmax' }), UsageError);
    assert.throws(() => choosePack(1.5, { objective: 'fashion-mnist', model: 'softmax' }), UsageError);
  });
});

describe('trial packing in a study', { skip }, () => {
  it('prunes members at their epoch, lets pending trials join, and gives each trial the reports it has alone', async () => {
    const common = { model: 'softmax', space: { learning_rate: { type: 'loguniform', low: 0.01, high: 0.1 } }, epochs: 3, trainSubset: 800, seed: 5 };
    // Alone: every trial to the end, one per thread.
    const a = await openStudy({ storage: tempDb('alone'), name: 'alone', ...common });
    await a.optimize({ trials: 8, workers: 1, pack: 1, backend });
    const alone = new Map<number, number[]>();
    for (const t of await a.trials()) {
      alone.set(t.number, (await a.reports({ trialId: t.id })).map((r) => r.value));
    }
    await a.close();

    // Packed: ASHA prunes at epochs 1 and 2; one worker, packs of 4.
    const b = await openStudy({ storage: tempDb('packed'), name: 'packed', ...common, scheduler: 'asha', minEpochs: 1, eta: 2 });
    const events: OptimizeEvent[] = [];
    const r = await b.optimize({ trials: 8, workers: 1, pack: 4, backend, onEvent: (e) => events.push(e) });
    assert.equal(r.counts.completed + r.counts.pruned, 8);
    assert.ok(r.counts.pruned >= 1, 'ASHA pruned some trials');
    // A join: a trial starts while another, started before it, has reported and is still running.
    const open = new Set<number>();
    const reported = new Set<number>();
    let joined = false;
    for (const e of events) {
      if (e.type === 'trial-start') {
        if ([...open].some((n) => reported.has(n))) joined = true;
        open.add(e.trial.number);
      } else if (e.type === 'report') reported.add(e.trial.number);
      else if (e.type === 'trial-end') open.delete(e.trial.number);
    }
    assert.ok(joined, 'a pending trial joined a running pack at an epoch boundary');
    for (const t of await b.trials()) {
      assert.equal(t.attempt, 1);
      const got = (await b.reports({ trialId: t.id })).map((x) => x.value);
      const ref = alone.get(t.number)!;
      assert.equal(got.length, t.epochs);
      assert.ok(t.state === 'completed' ? got.length === 3 : got.length < 3, `trial ${t.number} ${t.state} after ${got.length} epochs`);
      got.forEach((v, i) => assert.ok(Math.abs(v - ref[i]!) <= 1e-4 + 1e-9, `trial ${t.number} epoch ${i + 1}: packed ${v}, alone ${ref[i]}`));
      assert.equal(t.value, got.at(-1));
    }
    await b.close();
  });

  it('hpo run --pack: a bad value is one clear line; a user objective cannot be packed', () => {
    const bad = hpo(['run', '--study', 'x', '--storage', tempDb('bad'), '--pack', 'two']);
    assert.ok(isOneLineError(bad), bad.stderr);
    assert.match(bad.stderr, /--pack must be a positive integer or auto/);
    const timed = hpo(['run', '--study', 'x', '--storage', tempDb('timed'), '--model', 'softmax', '--pack', '4', '--trial-timeout', '60', '--trials', '2']);
    assert.ok(isOneLineError(timed), timed.stderr);
    assert.match(timed.stderr, /does not apply to packed trials yet/);
  });
});

interface TrialRow {
  number: number;
  state: string;
  value: number | null;
  params: string;
  attempt: number;
  finished_at: string | null;
}

describe('kill -9 during a packed study, then resume', { skip }, () => {
  it('loses and duplicates nothing', async () => {
    const db = tempDb('crash');
    const N = 8;
    const args = ['run', '--study', 'crash', '--storage', db, '--model', 'softmax', '--trials', String(N), '--epochs', '3', '--train-subset', '3000',
      '--workers', '1', '--pack', '3', '--seed', '12', '--backend', backend];
    const trials = (): TrialRow[] => dbRows<TrialRow>(db, 'SELECT number, state, value, params, attempt, finished_at FROM trials ORDER BY number');
    // Kill once a pack has finished and the next one has reported at least one epoch.
    await killWhen(args, db, () => {
      const running = dbRows<{ n: number }>(db, "SELECT count(*) AS n FROM reports r JOIN trials t ON t.id = r.trial_id WHERE t.state = 'running'")[0]!.n;
      return trials().some((t) => t.state === 'completed') && running > 0;
    });
    const before = trials();
    const completedBefore = before.filter((t) => t.state === 'completed');
    const runningBefore = before.filter((t) => t.state === 'running');
    assert.ok(runningBefore.length >= 1 && completedBefore.length < N, 'killed mid-study');

    const r = hpo(args);
    assert.equal(r.code, 0, r.stderr);
    const after = trials();
    assert.deepEqual(after.map((t) => t.number), Array.from({ length: N }, (_, i) => i + 1), 'numbers dense, none duplicated');
    assert.ok(after.every((t) => t.state === 'completed'), after.map((t) => t.state).join(','));
    for (const c of completedBefore) assert.deepEqual(after.find((t) => t.number === c.number), c, `completed trial ${c.number} kept as it was`);
    for (const k of runningBefore) {
      const a = after.find((t) => t.number === k.number)!;
      assert.equal(a.params, k.params);
      assert.equal(a.attempt, 2, `trial ${k.number} ran a second time`);
    }
    assert.deepEqual(dbRows(db, 'SELECT trial_id, epoch, count(*) AS n FROM reports GROUP BY trial_id, epoch HAVING n > 1'), []);
    assert.deepEqual(dbRows(db, 'SELECT count(*) AS n FROM reports'), [{ n: N * 3 }]);
  });
});
