import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LiveReport } from '../../src/report/live-report.js';
import { writeReport } from '../../src/report/write-report.js';
import { openStorage } from '../../src/storage/open.js';
import { populate } from './study-fixture.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('report files', () => {
  it('the library exports writeReport and LiveReport by the package name', async () => {
    const lib = (await import('tfjs-hpo')) as Record<string, unknown>;
    assert.equal(lib['writeReport'], writeReport);
    assert.equal(lib['LiveReport'], LiveReport);
  });

  it('writeReport replaces the file atomically and leaves no temporary file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpo-write-'));
    const storage = await openStorage(join(dir, 'study.db'));
    try {
      await populate(storage, 's', 5);
      const out = join(dir, 'sub', 'r.html');
      const r = await writeReport(storage, 's', out);
      assert.equal(r.trials, 5);
      assert.equal(readFileSync(out).length, r.bytes);
      await writeReport(storage, 's', out);
      assert.deepEqual(readdirSync(join(dir, 'sub')), ['r.html']);
      await assert.rejects(writeReport(storage, 'nope', out), /no study "nope"/);
    } finally {
      await storage.close();
    }
  });

  it('LiveReport writes at most once per interval, and once more at close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpo-live-'));
    const storage = await openStorage(join(dir, 'study.db'));
    try {
      await populate(storage, 's', 3);
      const out = join(dir, 'live.html');
      const live = new LiveReport({ storage, study: 's', path: out, intervalMs: 400 });
      live.changed(); // first change: written at once (no earlier write)
      await sleep(100);
      assert.equal(live.writes, 1);
      for (let i = 0; i < 50; i++) live.changed(); // a burst: one more write, after the interval
      await sleep(100);
      assert.equal(live.writes, 1);
      // The gap is at least 400 ms (more if writing was slow: 10x its duration).
      const deadline = Date.now() + 10_000;
      while (live.writes < 2 && Date.now() < deadline) await sleep(20);
      assert.equal(live.writes, 2);
      await sleep(100);
      assert.equal(live.writes, 2, 'the burst gave one write');
      await live.close();
      assert.equal(live.writes, 3);
      assert.ok(existsSync(out));
      live.changed(); // after close: ignored
      await sleep(50);
      assert.equal(live.writes, 3);
    } finally {
      await storage.close();
    }
  });

  it('a report that cannot be written warns once and does not throw', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpo-live-bad-'));
    const storage = await openStorage(join(dir, 'study.db'));
    try {
      await populate(storage, 's', 1);
      const warnings: string[] = [];
      // A path under a regular file cannot be created.
      const live = new LiveReport({ storage, study: 's', path: join(dir, 'study.db', 'x.html'), intervalMs: 10, warn: (m) => warnings.push(m) });
      live.changed();
      await sleep(50);
      live.changed();
      await sleep(50);
      await live.close();
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /--report .*x\.html: cannot write the report/);
      assert.equal(live.writes, 0);
    } finally {
      await storage.close();
    }
  });
});
