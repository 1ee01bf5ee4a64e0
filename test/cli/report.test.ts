import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { openStorage } from '../../src/storage/open.js';
import { populate } from '../report/study-fixture.js';
import { CHARTS, CHROMIUM, drawn, dumpDom } from '../report/chromium.js';
import { FIXTURES, hpo, isOneLineError, tempDb } from './helpers.js';

describe('hpo report', () => {
  it('writes the HTML report of a study', async () => {
    const db = tempDb('report');
    const storage = await openStorage(db);
    await populate(storage, 'r1', 12);
    await storage.close();
    const out = join(dirname(db), 'r1.html');
    const r = hpo(['report', '--storage', db, '--out', out]); // the only study: --study optional
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^wrote .*r1\.html \(12 trials, \d+ KiB\)$/m);
    const html = readFileSync(out, 'utf8');
    assert.match(html, /<title>hpo report: r1<\/title>/);
    for (const id of ['best-so-far', 'learning-curves', 'timeline', 'parallel-coordinates', 'param-scatter']) assert.match(html, new RegExp(`data-chart="${id}"`));
  });

  it('bad input is one line and a non-zero exit', async () => {
    const db = tempDb('report-bad');
    const missing = hpo(['report', '--storage', db, '--study', 'x', '--out', join(dirname(db), 'x.html')]);
    assert.ok(isOneLineError(missing), missing.stderr);
    assert.match(missing.stderr, /no storage at/);
    const storage = await openStorage(db);
    await populate(storage, 'r1', 1);
    await storage.close();
    const unknown = hpo(['report', '--storage', db, '--study', 'nope', '--out', join(dirname(db), 'x.html')]);
    assert.ok(isOneLineError(unknown), unknown.stderr);
    assert.match(unknown.stderr, /no study "nope".*studies: r1/);
    const badOut = hpo(['report', '--storage', db, '--out', join(db, 'x.html')]);
    assert.ok(isOneLineError(badOut), badOut.stderr);
    assert.match(badOut.stderr, /cannot write the report/);
    assert.ok(!existsSync(join(dirname(db), 'x.html')));
  });
});

describe('hpo run --report', () => {
  it('keeps the report current and writes it at the end', () => {
    const db = tempDb('run-report');
    const out = join(dirname(db), 'live.html');
    const objective = join(FIXTURES, 'objective-quadratic.mjs');
    const space = join(FIXTURES, 'space-quadratic.json');
    const r = hpo(['run', '--study', 'q', '--storage', db, '--objective', objective, '--space', space, '--workers', '2', '--seed', '5', '--trials', '16', '--scheduler', 'asha', '--min-epochs', '1', '--max-epochs', '4', '--report', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`report: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const html = readFileSync(out, 'utf8');
    assert.match(html, /<b>16<\/b><span>trials<\/span>/, 'the final write has every trial');
    assert.deepEqual(readdirSync(dirname(out)).filter((f) => f.endsWith('.tmp')), []);
    if (CHROMIUM !== undefined) {
      const counts = drawn(dumpDom(out));
      for (const c of CHARTS) assert.ok(counts[c]! > 0, `${c} drew ${counts[c]} marks`);
    }
  });

  it('an empty --report is refused', () => {
    const r = hpo(['run', '--study', 'q', '--storage', tempDb('run-report-bad'), '--report', '']);
    assert.ok(isOneLineError(r), r.stderr);
    assert.match(r.stderr, /--report must name a file/);
  });
});
