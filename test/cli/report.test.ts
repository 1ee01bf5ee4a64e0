import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { openStorage } from '../../src/storage/open.js';
import { populate } from '../report/study-fixture.js';
import { hpo, isOneLineError, tempDb } from './helpers.js';

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
