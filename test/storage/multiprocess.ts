/** Several real processes claiming from one study: the cross-process half of the contract. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openStorage } from '../../src/storage/open.js';

/** Source-tree fixture, found from dist/test/storage/ where this file runs. */
export const WORKER = fileURLToPath(new URL('../../../test/fixtures/storage-worker.mjs', import.meta.url));

export interface WorkerResult {
  readonly owner: string;
  readonly done: number[];
  readonly ms: number;
}

export function runWorker(url: string, study: string, maxTrials: number, owner: string): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, url, study, String(maxTrials), owner], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`worker ${owner} exited ${String(code)}: ${err.trim()}`));
      else resolve(JSON.parse(out.trim()) as WorkerResult);
    });
  });
}

/** Spawn `processes` workers on one study and check every number 1..trials completed exactly once. */
export async function checkMultiProcess(url: string, processes: number, trials: number): Promise<void> {
  const study = `mp-${process.pid}-${Date.now()}`;
  const results = await Promise.all(Array.from({ length: processes }, (_, i) => runWorker(url, study, trials, `proc${i + 1}`)));
  const all = results.flatMap((r) => r.done).sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: trials }, (_, i) => i + 1), 'each number completed by exactly one process');
  const s = await openStorage(url, { readOnly: true });
  try {
    const st = await s.getStudy(study);
    assert.ok(st);
    const ts = await s.getTrials(st.id);
    assert.equal(ts.length, trials);
    for (const t of ts) {
      assert.equal(t.state, 'completed');
      assert.equal(t.attempt, 1);
      assert.equal(t.epochs, 2);
      assert.equal(t.value, t.number);
    }
    assert.equal((await s.getReports(st.id)).length, 2 * trials);
  } finally {
    await s.close();
  }
}
