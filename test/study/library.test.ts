import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { DEBIAN_DIR } from '../../src/data/fashion-mnist.js';

type Lib = typeof import('../../src/index.js');
// By the package's name, as a user imports it (package.json "exports" self-reference).
const packageName = 'tfjs-hpo';
const lib = (await import(packageName)) as Lib;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const tempDb = (name: string): string => join(mkdtempSync(join(tmpdir(), 'hpo-lib-')), `${name}.db`);

describe('the library API, imported as "tfjs-hpo"', () => {
  it('exports the API by name', () => {
    for (const k of ['openStudy', 'Study', 'loguniform', 'uniform', 'int', 'categorical', 'openStorage', 'UsageError', 'SpaceError', 'StudyMismatchError']) {
      assert.ok(k in lib, `export ${k}`);
    }
  });

  it('openStudy({ enqueue }): checked before anything is stored, queued once per study, run first', async () => {
    const storage = tempDb('enqueue');
    const space = { x: lib.uniform(0, 1), n: lib.int(1, 3) };
    const objective = async function quad(c: Record<string, unknown>): Promise<number> {
      return ((c['x'] as number) - 0.3) ** 2 + (c['n'] as number);
    };
    // A bad config: nothing is created.
    await assert.rejects(
      lib.openStudy({ storage, name: 'q', objective, space, seed: 1, enqueue: [{ x: 0.5 }, { x: 2 }], enqueueFrom: 'configs.json' }),
      (e: Error) => e instanceof lib.UsageError && /^configs\.json, config 2: parameter "x": 2 is not a value of uniform\(0, 1\)/.test(e.message),
    );
    const db = new Database(storage, { readonly: true });
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM studies').get(), { n: 0 });
    db.close();
    const configs = [{ x: 0.3, n: 1 }, { n: 2 }, { x: 0.3, n: 1 }];
    let study = await lib.openStudy({ storage, name: 'q', objective, space, seed: 1, enqueue: configs });
    assert.deepEqual(study.enqueued, { added: 3, skipped: 0, waiting: 3 });
    await study.optimize({ trials: 2, workers: 1 });
    await study.close();
    // Resume with the same list (key order changed): nothing queued twice; one more config is new.
    study = await lib.openStudy({ storage, name: 'q', objective, enqueue: [{ n: 1, x: 0.3 }, { n: 2 }, { x: 0.3, n: 1 }, { x: 0.9, n: 3 }] });
    assert.deepEqual(study.enqueued, { added: 1, skipped: 3, waiting: 2 });
    await study.optimize({ trials: 6, workers: 1 });
    const trials = await study.trials();
    await study.close();
    assert.deepEqual(trials.slice(0, 4).map((t) => t.params), [{ x: 0.3, n: 1 }, { x: trials[1]!.params['x'], n: 2 }, { x: 0.3, n: 1 }, { x: 0.9, n: 3 }]);
    assert.equal(trials.length, 6);
  });

  it('space helpers build validated distributions', () => {
    assert.deepEqual(lib.loguniform(0.01, 1), { type: 'loguniform', low: 0.01, high: 1 });
    assert.deepEqual(lib.int(32, 512, { log: true }), { type: 'int', low: 32, high: 512, log: true });
    assert.deepEqual(lib.categorical(['relu', 'tanh']), { type: 'categorical', choices: ['relu', 'tanh'] });
    assert.throws(() => lib.loguniform(0, 1), lib.SpaceError);
    assert.throws(() => lib.uniform(2, 1), lib.SpaceError);
  });

  it('an in-process objective checkpoints; after an abort its next attempt restores and continues', async () => {
    const storage = tempDb('inline-cp');
    const stop = new AbortController();
    const trained: string[] = [];
    const restored: (number | null)[] = [];
    const objective = async (config: Record<string, unknown>, ctx: import('../../src/index.js').TrialContext): Promise<number> => {
      const cp = await ctx.restore();
      restored.push(cp?.epoch ?? null);
      let w = cp ? new Float64Array(cp.data.slice().buffer)[0]! : (config['x'] as number);
      for (let e = (cp?.epoch ?? 0) + 1; e <= 5; e++) {
        trained.push(`${ctx.trialNumber}:${e}`);
        w = w / 2;
        if (e === 3 && !stop.signal.aborted) {
          await ctx.report(e, w);
          await ctx.checkpoint(new Uint8Array(Float64Array.from([w]).buffer));
          stop.abort(); // the run stops here: the trial becomes interrupted
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('stopped');
        }
        if (await ctx.report(e, w)) break;
        await ctx.checkpoint(new Uint8Array(Float64Array.from([w]).buffer));
      }
      return w;
    };
    const study = await lib.openStudy({ storage, name: 'cp', objective, space: { x: lib.uniform(0, 1) }, epochs: 5, seed: 3 });
    const first = await study.optimize({ trials: 1, workers: 1, signal: stop.signal });
    assert.equal(first.aborted, true);
    assert.equal(first.counts.interrupted, 1);
    const second = await study.optimize({ trials: 1, workers: 1 });
    assert.equal(second.counts.completed, 1);
    assert.deepEqual(restored, [null, 3]);
    assert.deepEqual(trained, ['1:1', '1:2', '1:3', '1:4', '1:5']);
    const [t] = await study.trials();
    assert.equal(t!.attempt, 2);
    assert.ok(Math.abs(t!.value! - (t!.params['x'] as number) / 32) < 1e-15);
    assert.deepEqual((await study.reports()).map((r) => r.epoch), [1, 2, 3, 4, 5]);
    await study.close();
    const db = new Database(storage, { readonly: true });
    assert.equal((db.prepare('SELECT count(*) AS n FROM checkpoints').get() as { n: number }).n, 0);
    db.close();
  });

  it('optimizes an in-process objective, streams events, and resumes with the same function', async () => {
    const storage = tempDb('inline');
    const seen: string[] = [];
    const objective = async (config: Record<string, unknown>, ctx: { report(e: number, v: number): Promise<boolean> }): Promise<number> => {
      const x = config['x'] as number;
      for (let e = 1; e <= 3; e++) if (await ctx.report(e, (x - 0.3) ** 2 + 1 / e)) break;
      return (x - 0.3) ** 2 + 1 / 3;
    };
    const study = await lib.openStudy({ storage, name: 'q', objective, space: { x: lib.uniform(0, 1) }, epochs: 3, seed: 9 });
    assert.equal(study.created, true);
    const r = await study.optimize({ trials: 8, workers: 3, onEvent: (e) => seen.push(e.type) });
    assert.equal(r.counts.completed, 8);
    assert.equal(r.alreadyFinished, false);
    assert.equal(seen.filter((t) => t === 'trial-end').length, 8);
    assert.equal(seen.filter((t) => t === 'report').length, 24);
    assert.ok(seen.indexOf('setup') < seen.indexOf('start') && seen.indexOf('start') < seen.indexOf('trial-start'));
    const trials = await study.trials();
    const best = await study.best();
    const min = Math.min(...trials.map((t) => t.value!));
    assert.equal(best!.value, min);
    assert.ok(Math.abs(best!.value! - (((best!.params['x'] as number) - 0.3) ** 2 + 1 / 3)) < 1e-12);
    assert.equal((await study.reports()).length, 24);
    await study.close();

    // Reopened with the same function: options left out come from storage.
    const again = await lib.openStudy({ storage, name: 'q', objective });
    assert.equal(again.created, false);
    assert.equal(again.record.settings['epochs'], 3);
    const r2 = await again.optimize({ trials: 10, workers: 2 });
    assert.equal(r2.counts.completed, 10);
    assert.equal(r2.ran, 2);
    const r3 = await again.optimize({ trials: 10 });
    assert.equal(r3.alreadyFinished, true);
    assert.equal(r3.ran, 0);
    await again.close();
    // Without the function it cannot run, and says why.
    await assert.rejects(lib.openStudy({ storage, name: 'q' }), /in-process objective \(function:objective\); pass that function/);
  });

  it('an AbortSignal stops the study; the interrupted trials run again on resume', async () => {
    const storage = tempDb('abort');
    const stop = new AbortController();
    const objective = async (_c: Record<string, unknown>, ctx: { report(e: number, v: number): Promise<boolean> }): Promise<number> => {
      for (let e = 1; e <= 5; e++) {
        await new Promise((res) => setTimeout(res, 20));
        if (await ctx.report(e, 1 / e)) break;
      }
      return 0.2;
    };
    const study = await lib.openStudy({ storage, name: 'a', objective, space: { x: 'uniform(0, 1)' }, epochs: 5, seed: 1 });
    const r = await study.optimize({
      trials: 4,
      workers: 2,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'report' && e.epoch === 2) stop.abort();
      },
    });
    assert.equal(r.aborted, true);
    assert.ok(r.counts.interrupted >= 1, JSON.stringify(r.counts));
    assert.equal(r.counts.completed, 0);
    const r2 = await study.optimize({ trials: 4, workers: 2 });
    assert.equal(r2.counts.completed, 4);
    assert.ok((await study.trials()).some((t) => t.attempt === 2), 'an interrupted trial ran again');
    await study.close();
  });

  it('bad options are typed one-line errors and write nothing', async () => {
    const storage = tempDb('bad');
    const f = (): number => 1;
    await assert.rejects(lib.openStudy({ storage, name: 'b', objective: f }), /needs a search space/);
    await assert.rejects(lib.openStudy({ storage, name: 'b', objective: f, space: { x: 'uniform(1, 0)' } }), lib.SpaceError);
    await assert.rejects(lib.openStudy({ storage, name: 'b', model: 'resnet' }), /unknown model "resnet"/);
    await assert.rejects(lib.openStudy({ storage, name: 'b', sampler: 'nope' }), /unknown sampler "nope"/);
    await assert.rejects(lib.openStudy({ storage, name: 'b', scheduler: 'fifo', eta: 3 }), /eta apply to/);
    await assert.rejects(lib.openStudy({ storage, name: '' }), /must not be empty/);
    const s = await lib.openStudy({ storage, name: 'b', objective: f, space: { x: 'uniform(0, 1)' }, seed: 2, epochs: 1 });
    await assert.rejects(s.optimize({ trials: 0 }), lib.UsageError);
    await assert.rejects(s.optimize({ trials: 2, workers: 1.5 }), /workers must be an integer >= 1/);
    await assert.rejects(s.optimize({ trials: 2, heartbeatSeconds: 10, staleAfterSeconds: 5 }), /heartbeatSeconds must be less/);
    await s.close();
    await assert.rejects(lib.openStudy({ storage, name: 'b', objective: f, seed: 3 }), lib.StudyMismatchError);
    const db = new Database(storage, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT name FROM studies').all(), [{ name: 'b' }]);
      assert.deepEqual(db.prepare('SELECT count(*) AS n FROM trials').get(), { n: 0 });
    } finally {
      db.close();
    }
  });

  it('an open Storage can be shared and is not closed by the study', async () => {
    const storage = await lib.openStorage(tempDb('shared'));
    const s = await lib.openStudy({ storage, name: 'softmax-default' });
    assert.equal(s.record.objective, 'fashion-mnist');
    assert.equal(s.record.model, 'softmax');
    assert.deepEqual(Object.keys(s.record.space), ['learning_rate']);
    await s.close();
    assert.equal((await storage.listStudies()).length, 1, 'storage still open');
    await storage.close();
  });
});

describe("the README's library example", { skip: !existsSync(DEBIAN_DIR) && 'needs apt-get install dataset-fashion-mnist' }, () => {
  it('is the file we test, and it runs', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const code = readFileSync(join(ROOT, 'test', 'fixtures', 'readme-library.ts'), 'utf8');
    assert.ok(readme.includes('// tune.ts\n' + code), 'README example and test/fixtures/readme-library.ts agree');
    const storage = tempDb('readme-lib');
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'test', 'fixtures', 'readme-library.js')], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, HPO_STORAGE: storage },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.match(/^trial \d+ (completed|pruned) /gm)?.length, 6, r.stdout);
    assert.match(r.stdout, /quadratic best \{ x: 0\.[23]\d*/);
    const db = new Database(storage, { readonly: true });
    try {
      const rows = db.prepare("SELECT s.name, t.state, count(*) AS n FROM trials t JOIN studies s ON s.id = t.study_id GROUP BY s.name, t.state ORDER BY s.name, t.state").all() as { name: string; state: string; n: number }[];
      assert.equal(rows.filter((x) => x.name === 'mlp-lib').reduce((a, x) => a + x.n, 0), 6);
      assert.deepEqual(rows.filter((x) => x.name === 'quadratic'), [{ name: 'quadratic', state: 'completed', n: 20 }]);
    } finally {
      db.close();
    }
  });
});
