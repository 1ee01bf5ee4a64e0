/** hpo run --sampler tpe on the Branin example, and hpo enqueue, as a user runs them. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dbRows, hpo, isOneLineError, ROOT, tempDb } from './helpers.js';

const EXAMPLES = join(ROOT, 'examples');
const branin = ['--objective', join(EXAMPLES, 'branin.mjs'), '--space', join(EXAMPLES, 'branin.json')];

describe('samplers and enqueue from the CLI', () => {
  it('enqueued configs run first, as trials 1 and 2; then TPE; bad configs are refused with one line', () => {
    const db = tempDb('enqueue');
    let r = hpo(['run', '--study', 'b', '--storage', db, ...branin, '--trials', '1', '--workers', '1', '--sampler', 'tpe', '--seed', '1']);
    assert.equal(r.code, 0, r.stderr);
    r = hpo(['enqueue', '--study', 'b', '--storage', db, '{"x1": 3.14159, "x2": 2.275}', '{"x1": -3.14159, "x2": 12.275}']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2 config\(s\) enqueued; 2 waiting/);
    const bad: [string, RegExp][] = [
      ['{"x1": 30, "x2": 1}', /parameter "x1": 30 is not a value of uniform\(-5, 10\)/],
      ['{"x1": 1, "x2": 1, "y": 2}', /parameter "y": is not in the search space/],
      ['{"x1": 1,', /not valid JSON/],
      ['[1, 2]', /a config is a JSON object/],
    ];
    for (const [cfg, msg] of bad) {
      const e = hpo(['enqueue', '--study', 'b', '--storage', db, cfg]);
      assert.ok(isOneLineError(e), `${cfg}: ${e.stderr}`);
      assert.match(e.stderr, msg);
    }
    r = hpo(['run', '--study', 'b', '--storage', db, '--trials', '15', '--workers', '1', ...branin]);
    assert.equal(r.code, 0, r.stderr);
    const rows = dbRows<{ number: number; params: string; value: number }>(db, 'SELECT number, params, value FROM trials ORDER BY number');
    assert.equal(rows.length, 15);
    assert.deepEqual(JSON.parse(rows[1]!.params), { x1: 3.14159, x2: 2.275 });
    assert.deepEqual(JSON.parse(rows[2]!.params), { x1: -3.14159, x2: 12.275 });
    assert.ok(Math.abs(rows[1]!.value - 0.397887) < 1e-3);
    // A partial config: the parameters left out are sampled.
    r = hpo(['enqueue', '--study', 'b', '--storage', db, '{"x2": 7.5}']);
    assert.equal(r.code, 0, r.stderr);
    r = hpo(['run', '--study', 'b', '--storage', db, '--trials', '16', '--workers', '1', ...branin]);
    const last = JSON.parse(dbRows<{ params: string }>(db, 'SELECT params FROM trials WHERE number = 16')[0]!.params) as Record<string, number>;
    assert.equal(last['x2'], 7.5);
    assert.ok(last['x1']! >= -5 && last['x1']! <= 10);
    assert.deepEqual(dbRows(db, 'SELECT count(*) AS n FROM enqueued'), [{ n: 0 }]);
  });

  it('run --enqueue FILE: checked before anything runs, queued once, so re-running the command does not queue it again', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpo-enq-'));
    const db = join(dir, 'e.db');
    const good = join(dir, 'good.jsonl');
    writeFileSync(good, '{"x1": 3.14159, "x2": 2.275}\n{"x1": -3.14159, "x2": 12.275}\n');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[{"x1": 3.14159, "x2": 2.275}, {"x1": 30, "x2": 1}]');
    const run = (trials: number, file: string): ReturnType<typeof hpo> =>
      hpo(['run', '--study', 'b', '--storage', db, ...branin, '--trials', String(trials), '--workers', '1', '--sampler', 'tpe', '--seed', '1', '--enqueue', file]);
    let r = run(3, bad);
    assert.ok(isOneLineError(r), r.stderr);
    assert.match(r.stderr, /--enqueue .*bad\.json, config 2: parameter "x1": 30 is not a value of uniform\(-5, 10\)/);
    assert.deepEqual(dbRows(db, 'SELECT count(*) AS n FROM studies'), [{ n: 0 }]);
    r = run(3, join(dir, 'missing.json'));
    assert.ok(isOneLineError(r), r.stderr);
    assert.match(r.stderr, /missing\.json: no such file/);
    r = run(3, good);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /good\.jsonl: 2 config\(s\) queued; 2 waiting/);
    // The same command again, with a larger budget (a resume): nothing queued twice.
    r = run(5, good);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /0 config\(s\) queued, 2 skipped \(queued by an earlier --enqueue of this study\); 0 waiting/);
    const rows = dbRows<{ params: string }>(db, 'SELECT params FROM trials ORDER BY number').map((x) => JSON.parse(x.params) as Record<string, number>);
    assert.equal(rows.length, 5);
    assert.deepEqual(rows.slice(0, 2), [{ x1: 3.14159, x2: 2.275 }, { x1: -3.14159, x2: 12.275 }]);
    assert.ok(rows.slice(2).every((p) => p['x1'] !== 3.14159 && p['x1'] !== -3.14159));
  });

  it('--sampler gp refuses a conditional space with one line; an unknown sampler names the choices', () => {
    const db = tempDb('gp');
    const r = hpo(['run', '--study', 'g', '--storage', db, '--model', 'mlp', '--sampler', 'gp', '--space', join(EXAMPLES, 'conditional-mlp.json'), '--trials', '1']);
    assert.ok(isOneLineError(r), r.stderr);
    assert.match(r.stderr, /--sampler gp needs a space without conditions; "num_hiddens_2" has "when"/);
    const u = hpo(['run', '--study', 'g', '--storage', db, ...branin, '--sampler', 'bayes', '--trials', '1']);
    assert.ok(isOneLineError(u), u.stderr);
    assert.match(u.stderr, /tpe-multivariate/);
  });
});
