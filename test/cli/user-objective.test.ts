import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { once } from 'node:events';
import { dbRows, FIXTURES, hpo, hpoAsync, isOneLineError, tempDb } from './helpers.js';

const objective = join(FIXTURES, 'objective-quadratic.mjs');
const space = join(FIXTURES, 'space-quadratic.json');

interface Row {
  number: number;
  state: string;
  value: number | null;
  error: string | null;
  params: string;
  epochs: number;
}

describe('a user objective on the worker pool', () => {
  const db = tempDb('user');
  const base = ['run', '--study', 'q', '--storage', db, '--objective', objective, '--space', space, '--workers', '2', '--seed', '3'];

  it('runs every trial; failures are stored with their reason and the study goes on', () => {
    const r = hpo([...base, '--trials', '24', '--epochs', '3']);
    assert.equal(r.code, 0, r.stderr);
    const rows = dbRows<Row>(db, 'SELECT number, state, value, error, params, epochs FROM trials ORDER BY number');
    assert.deepEqual(rows.map((x) => x.number), Array.from({ length: 24 }, (_, i) => i + 1));
    const byMode = new Map<string, Row[]>();
    for (const row of rows) {
      const mode = (JSON.parse(row.params) as { mode: string }).mode;
      byMode.set(mode, [...(byMode.get(mode) ?? []), row]);
    }
    for (const mode of ['ok', 'ok2', 'ok3']) {
      for (const row of byMode.get(mode) ?? []) {
        assert.equal(row.state, 'completed');
        const x = (JSON.parse(row.params) as { x: number }).x;
        assert.ok(Math.abs(row.value! - ((x - 0.3) ** 2 + 0.25)) < 1e-12, 'value is what the objective returned');
        assert.equal(row.epochs, 3);
      }
    }
    const expectFailed = (mode: string, re: RegExp): void => {
      const rs = byMode.get(mode) ?? [];
      for (const row of rs) {
        assert.equal(row.state, 'failed', `${mode} trial ${row.number}`);
        assert.equal(row.value, null);
        assert.match(row.error ?? '', re);
      }
    };
    expectFailed('throw', /boom at x=/);
    expectFailed('nan', /objective returned NaN/);
    expectFailed('exit', /worker thread died|exit/i);
    assert.ok((byMode.get('exit') ?? []).length > 0, 'seed 3 draws at least one thread-killing config');
    // the pool replaced dead threads: trials after the first thread death completed
    const firstExit = Math.min(...(byMode.get('exit') ?? []).map((x) => x.number));
    assert.ok(rows.some((x) => x.number > firstExit && x.state === 'completed'), 'trials after a thread died still completed');
  });

  it('same seed, same configs; a finished study is not re-run', () => {
    const again = tempDb('user2');
    assert.equal(hpo(['run', '--study', 'q', '--storage', again, '--objective', objective, '--space', space, '--workers', '1', '--seed', '3', '--trials', '5', '--epochs', '1']).code, 0);
    const pa = dbRows(db, 'SELECT params FROM trials WHERE number <= 5 ORDER BY number');
    const pb = dbRows(again, 'SELECT params FROM trials ORDER BY number');
    assert.deepEqual(pb, pa, 'configs depend on (seed, number) only, not on worker count');
    const r = hpo([...base, '--trials', '24', '--epochs', '3']);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /study "q" already has 24 finished trials \(--trials 24\); raise --trials to continue it/);
    assert.doesNotMatch(r.stderr, /trial \d+ (completed|FAILED)/, 'nothing ran again');
  });

  it('resumes with the stored objective, space and epochs when they are left out', () => {
    const r = hpo(['run', '--study', 'q', '--storage', db, '--trials', '26', '--workers', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /continuing study "q"/);
    const rows = dbRows<Row>(db, 'SELECT number, state, value, error, params, epochs FROM trials WHERE number > 24 ORDER BY number');
    assert.deepEqual(rows.map((x) => x.number), [25, 26], 'two more trials ran');
    for (const row of rows) {
      const p = JSON.parse(row.params) as { x: number; mode: string };
      assert.deepEqual(Object.keys(p).sort(), ['mode', 'x'], 'sampled from the stored space');
      if (row.state === 'completed') {
        assert.ok(Math.abs(row.value! - ((p.x - 0.3) ** 2 + 0.25)) < 1e-12, 'the stored objective computed it');
        assert.equal(row.epochs, 3, 'with the stored epochs');
      } else assert.equal(row.state, 'failed', `${p.mode} trial ${row.number}`);
    }
  });

  it('refuses to continue a study with another objective or space', () => {
    const r = hpo(['run', '--study', 'q', '--storage', db, '--objective', 'fashion-mnist', '--trials', '30']);
    assert.ok(isOneLineError(r), r.stderr);
    assert.match(r.stderr, /was created with objective .*objective-quadratic\.mjs; refusing to continue it with objective fashion-mnist/);
    const r2 = hpo([...base.filter((x) => x !== space && x !== '--space'), '--space', join(FIXTURES, 'space-quadratic-other.json'), '--trials', '30']);
    assert.ok(isOneLineError(r2), r2.stderr);
  });
});

describe('bad input: one line, non-zero exit, stored trials untouched', () => {
  const db = tempDb('bad');
  const common = ['--storage', db, '--objective', objective];
  it('sets up a study', () => {
    assert.equal(hpo(['run', '--study', 'b', ...common, '--space', space, '--trials', '3', '--epochs', '1', '--seed', '1']).code, 0);
  });
  const cases: [string, string[], RegExp][] = [
    ['zero trials', ['run', '--study', 'b', ...common, '--space', space, '--trials', '0'], /--trials must be an integer >= 1/],
    ['bad workers', ['run', '--study', 'b', ...common, '--space', space, '--workers', '-2'], /--workers must be an integer >= 1/],
    ['missing space file', ['run', '--study', 'c', ...common, '--space', '/nonexistent.json'], /no such file/],
    ['invalid space', ['run', '--study', 'c', ...common, '--space', join(FIXTURES, 'space-invalid.json')], /parameter "lr": low \(1\) >= high \(0\.01\)/],
    ['objective without space', ['run', '--study', 'c', ...common], /needs a search space/],
    ['objective without a function', ['run', '--study', 'c', '--storage', db, '--objective', join(FIXTURES, 'objective-bad-export.mjs'), '--space', space], /must export an async function/],
    ['objective with a syntax error', ['run', '--study', 'c', '--storage', db, '--objective', join(FIXTURES, 'objective-syntax-error.mjs'), '--space', space], /cannot be loaded: .*SyntaxError|Unexpected/],
    ['unknown scheduler', ['run', '--study', 'c', ...common, '--space', space, '--scheduler', 'nope'], /--scheduler: "nope" is not one of fifo, asha, successive-halving, hyperband, sh$/m],
    ['unknown model', ['run', '--study', 'c', '--storage', db, '--model', 'resnet'], /--model: "resnet" is not one of softmax, mlp, lenet$/m],
    ['unknown sampler', ['run', '--study', 'c', ...common, '--space', space, '--sampler', 'foo'], /--sampler: "foo" is not one of random/],
    ['explicit other objective', ['run', '--study', 'b', '--storage', db, '--objective', 'fashion-mnist', '--trials', '9'], /was created with objective .*objective-quadratic\.mjs; refusing to continue it with objective fashion-mnist/],
    ['unknown option', ['run', '--bogus'], /Unknown argument/],
    ['unknown study', ['best', '--storage', db, '--study', 'zzz'], /no study "zzz" in .*\(studies: b\)/],
    ['missing storage', ['trials', '--storage', '/tmp/does-not-exist.db'], /no storage at/],
    ['write through sql', ['sql', '--storage', db, 'DELETE FROM trials'], /read-only/],
    ['drop through sql', ['sql', '--storage', db, 'DROP TABLE trials'], /read-only/],
    ['bad sql', ['sql', '--storage', db, 'SELEKT 1'], /syntax error|SELEKT/],
    ['no command', [], /give a command/],
  ];
  for (const [name, args, re] of cases) {
    it(name, () => {
      const r = hpo(args);
      assert.ok(isOneLineError(r), `exit ${r.code}, stderr: ${r.stderr}`);
      assert.match(r.stderr, re);
    });
  }
  it('stored trials are intact', () => {
    const r = hpo(['sql', '--storage', db, '--json', "SELECT count(*) AS n FROM trials WHERE state = 'completed' OR state = 'failed'"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [{ n: 3 }]);
    const integrity = hpo(['sql', '--storage', db, '--json', 'PRAGMA integrity_check']);
    assert.equal(integrity.code, 0, integrity.stderr);
    assert.deepEqual(JSON.parse(integrity.stdout), [{ integrity_check: 'ok' }]);
  });
});

describe("the README's objective example", () => {
  it('is the file we test, and it runs under a scheduler', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(join(FIXTURES, '..', '..', 'README.md'), 'utf8');
    const code = readFileSync(join(FIXTURES, 'readme-objective.mjs'), 'utf8');
    const space = readFileSync(join(FIXTURES, 'readme-space.json'), 'utf8');
    assert.ok(readme.includes('// my-objective.mjs\n' + code), 'README example and test/fixtures/readme-objective.mjs agree');
    assert.ok(readme.includes(space.trim()), 'README space and test/fixtures/readme-space.json agree');
    const db = tempDb('readme');
    const r = hpo(['run', '--study', 'mine', '--storage', db, '--objective', join(FIXTURES, 'readme-objective.mjs'), '--space', join(FIXTURES, 'readme-space.json'),
      '--trials', '4', '--epochs', '3', '--scheduler', 'asha', '--min-epochs', '1', '--workers', '2', '--seed', '2']);
    assert.equal(r.code, 0, r.stderr);
    const best = hpo(['best', '--storage', db, '--json']);
    const b = JSON.parse(best.stdout) as { value: number; params: { units: number } };
    assert.ok(Number.isFinite(b.value) && b.value >= 0);
    assert.ok(Number.isInteger(b.params.units));
  });
});

describe('Ctrl-C', () => {
  it('marks running trials interrupted, exits 130, and the next run re-runs them', async () => {
    const db = tempDb('sigint');
    const args = (epochs: number): string[] => [
      'run', '--study', 'i', '--storage', db, '--objective', join(FIXTURES, 'objective-slow.mjs'), '--space', join(FIXTURES, 'space-slow.json'),
      '--trials', '3', '--epochs', String(epochs), '--workers', '2', '--seed', '1',
    ];
    const child = hpoAsync(args(30));
    for (let i = 0; ; i++) {
      assert.ok(i < 300, 'no trial started');
      await new Promise((r) => setTimeout(r, 100));
      try {
        const n = dbRows<{ n: number }>(db, 'SELECT count(*) AS n FROM reports')[0]!.n;
        if (n >= 2) break;
      } catch {
        // not created yet
      }
    }
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 130);
    const states = dbRows<{ state: string }>(db, 'SELECT state FROM trials ORDER BY number');
    assert.ok(states.length >= 1 && states.every((s) => s.state === 'interrupted'), JSON.stringify(states));
    // epochs define the study: resuming with others is refused
    const r = hpo(args(3));
    assert.ok(isOneLineError(r), r.stderr);
    assert.match(r.stderr, /created with epochs 30; refusing to continue it with epochs 3/);
    const r2 = hpo(args(30));
    assert.equal(r2.code, 0, r2.stderr);
    const after = dbRows<{ state: string; attempt: number }>(db, 'SELECT state, attempt FROM trials ORDER BY number');
    assert.equal(after.length, 3);
    assert.ok(after.every((t) => t.state === 'completed'));
    assert.ok(after.some((t) => t.attempt === 2), 'an interrupted trial ran again');
  });
});
