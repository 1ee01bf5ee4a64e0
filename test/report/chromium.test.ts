/**
 * The report renders in a real browser: headless Chromium loads the file offline, the
 * page's script counts the marks each chart laid out, and the dumped DOM must show every
 * chart drew something (or, for an empty study, that nothing broke).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStorage } from '../../src/storage/open.js';
import { writeReport } from '../../src/report/write-report.js';
import { CHARTS, CHROMIUM, drawn, dumpDom } from './chromium.js';
import { populate } from './study-fixture.js';

describe('the report in headless Chromium', { skip: CHROMIUM === undefined && 'chromium is not installed (apt-get install chromium); CI installs it' }, () => {
  it('draws every chart of a study with completed, pruned, failed and running trials', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpo-report-'));
    const storage = await openStorage(join(dir, 'study.db'));
    try {
      await populate(storage, 's', 30);
      const out = join(dir, 'report.html');
      await writeReport(storage, 's', out);
      const html = readFileSync(out, 'utf8');
      // Self-contained: nothing the browser would fetch.
      assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i);
      assert.doesNotMatch(html, /https?:\/\//);
      const counts = drawn(dumpDom(out));
      assert.deepEqual(Object.keys(counts).sort(), [...CHARTS].sort(), 'every chart is on the page and was counted');
      for (const c of CHARTS) assert.ok(counts[c]! > 0, `${c} drew ${counts[c]} marks`);
      // One mark per trial with a value (circle or polyline) and one line per running/failed trial.
      assert.equal(counts['learning-curves'], 30);
      assert.equal(counts['timeline'], 30);
    } finally {
      await storage.close();
    }
  });

  it('renders an empty study without errors, every chart saying there is nothing yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpo-report-empty-'));
    const storage = await openStorage(join(dir, 'study.db'));
    try {
      await populate(storage, 'empty', 0);
      const out = join(dir, 'report.html');
      await writeReport(storage, 'empty', out);
      const dom = dumpDom(out);
      const counts = drawn(dom);
      assert.deepEqual(Object.keys(counts).sort(), [...CHARTS].sort());
      for (const c of CHARTS) assert.equal(counts[c], 0, c);
      assert.match(dom, /No trials yet/);
    } finally {
      await storage.close();
    }
  });
});
