/**
 * --trial-timeout inside a pack, on a real pool thread training real packs, with the main
 * thread's clocks mocked: time passes only where the test ticks it (always while the pack
 * trains an epoch, right after the main thread has answered a boundary), so which member
 * runs out of time, and when, is exact whatever the machine's load.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, afterEach, before, beforeEach, describe, it, mock } from 'node:test';
import { DEBIAN_DIR, loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { TrialError } from '../../src/errors.js';
import { loadBackend, type BackendName } from '../../src/training/backend.js';
import { shareFashionDataset, type ThreadDataset } from '../../src/training/shared-dataset.js';
import type { PackReport, PackTrialSpec } from '../../src/worker/messages.js';
import { TrialPool, type PackHandlers } from '../../src/worker/pool.js';

const skip = !existsSync(DEBIAN_DIR) && 'needs apt-get install dataset-fashion-mnist';

describe('trial timeout per member of a pack', { skip }, () => {
  let pool: TrialPool;
  let dataset: ThreadDataset;

  before(async () => {
    const b = await loadBackend('auto', { intraOpThreads: 1, interOpThreads: 1 });
    dataset = shareFashionDataset(await loadFashionMnist({ download: false }), ['flat1'], b.name as BackendName);
    pool = new TrialPool({ workers: 1, init: { dataset, backend: b.name as BackendName, intraOpThreads: 1, interOpThreads: 1 }, trialTimeoutMs: 1000 });
  });
  after(() => pool.destroy());
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(() => mock.timers.reset());

  const spec = (n: number, maxEpochs: number): PackTrialSpec => ({ trialNumber: n, seed: n, maxEpochs, params: { learning_rate: 0.05, batch_size: 16 }, resume: null });
  const task = (trials: PackTrialSpec[]) => ({ model: 'softmax', batchSize: 16, settings: { trainSubset: 320 }, trials });

  /** Handlers that record what happens; `during[b]` ms pass in the epoch after boundary b, and `joins[b]` join there. */
  function handlers(max: Map<number, number>, during: Record<number, number>, joins: Record<number, PackTrialSpec[]> = {}) {
    const reports: string[] = [];
    const failed: [number, string][] = [];
    let boundary = 0;
    const h: PackHandlers = {
      onReport: async (r: PackReport) => {
        reports.push(`${r.trialNumber}:${r.epoch}`);
        assert.equal(r.checkpoint !== undefined, r.epoch < max.get(r.trialNumber)!, 'a checkpoint with every report but the last');
        return r.epoch >= max.get(r.trialNumber)!;
      },
      onFailed: async (n, error) => void failed.push([n, error]),
      join: async (room) => {
        boundary++;
        const tick = during[boundary];
        // After this answer is sent and the clocks resume: while the pack trains its next epoch.
        if (tick) setImmediate(() => mock.timers.tick(tick));
        const j = (joins[boundary] ?? []).slice(0, room);
        for (const t of j) max.set(t.trialNumber, t.maxEpochs);
        return j;
      },
    };
    return { h, reports, failed };
  }

  it('a member over its time leaves at the next epoch boundary, failed; a member that joined later goes on', async () => {
    // 1 (5 epochs) and 2 (2 epochs) start together; 600 ms pass in epoch 2; 2 completes and
    // 3 joins at boundary 2; 500 ms pass in epoch 3: 1 has used 1100 ms of 1000, 3 500.
    const max = new Map([[1, 5], [2, 2]]);
    const { h, reports, failed } = handlers(max, { 1: 600, 2: 500 }, { 2: [spec(3, 3)] });
    await pool.runPack(task([spec(1, 5), spec(2, 2)]), 2, h);
    assert.deepEqual(failed, [[1, 'timed out after 1 s']]);
    assert.deepEqual(reports, ['1:1', '2:1', '1:2', '2:2', '3:1', '3:2', '3:3'], 'the epoch 1 overran is not reported; 3 trains to its end');
  });

  it('when every member is over before a boundary the step cannot be cut short: the thread is stopped and replaced', async () => {
    const max = new Map([[4, 5]]);
    const { h, reports, failed } = handlers(max, { 1: 1500 });
    await assert.rejects(pool.runPack(task([spec(4, 5)]), 2, h), (e: unknown) => e instanceof TrialError && e.message === 'timed out after 1 s');
    assert.deepEqual(reports, ['4:1']);
    assert.deepEqual(failed, []);
    // The replacement thread trains the next pack.
    const next = handlers(new Map([[5, 1]]), {});
    await pool.runPack(task([spec(5, 1)]), 2, next.h);
    assert.deepEqual(next.reports, ['5:1']);
  });
});
