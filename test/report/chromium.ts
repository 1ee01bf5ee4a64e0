/** Headless Chromium for the report tests: load a file offline and dump the DOM after its script ran. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM: string | undefined = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
export const CHARTS = ['best-so-far', 'learning-curves', 'timeline', 'parallel-coordinates', 'param-scatter'];

export function dumpDom(file: string): string {
  const profile = mkdtempSync(join(tmpdir(), 'hpo-chromium-'));
  try {
    const r = spawnSync(
      CHROMIUM!,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        '--dump-dom',
        pathToFileURL(file).href,
      ],
      { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 << 20 },
    );
    assert.equal(r.status, 0, `chromium failed: ${r.stderr.slice(-500)}`);
    return r.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** data-drawn of each chart, from the DOM after the page's script ran. */
export function drawn(dom: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of dom.matchAll(/<figure data-chart="([a-z-]+)" data-drawn="(\d+)"/g)) out[m[1]!] = Number(m[2]);
  return out;
}

