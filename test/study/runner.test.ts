import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEBIAN_DIR, loadFashionMnist, type SharedFashionMnist } from '../../src/data/fashion-mnist.js';
import { shareFashionDataset, type ThreadDataset } from '../../src/training/shared-dataset.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { createScheduler } from '../../src/schedulers/registry.js';
import { openStorage } from '../../src/storage/open.js';
import type { Storage, StudySpec } from '../../src/storage/storage.js';
import { ensureStudy } from '../../src/study/ensure-study.js';
import { runStudy } from '../../src/study/runner.js';
import { loadBackend } from '../../src/training/backend.js';
import { getModel } from '../../src/training/models/index.js';
import { TrialPool } from '../../src/worker/pool.js';

const skip = !existsSync(DEBIAN_DIR) && 'needs apt-get install dataset-fashion-mnist';

describe('worker pools come and go in one process', { skip }, () => {
  let storage: Storage;
  let dataset: SharedFashionMnist;
  const shared = new Map<string, ThreadDataset>();
  let backend: string;

  before(async () => {
    const b = await loadBackend('auto', { intraOpThreads: 1, interOpThreads: 1 });
    backend = b.name;
    dataset = await loadFashionMnist({ download: false });
    storage = await openStorage(join(mkdtempSync(join(tmpdir(), 'hpo-churn-')), 'churn.db'));
  });
  after(async () => {
    await storage.close();
  });

  async function study(name: string, model: string, poolGenerations: number, below = 0.9): Promise<void> {
    const spec: StudySpec = {
      name,
      objective: 'fashion-mnist',
      model,
      space: getModel(model).defaultSpace,
      settings: { epochs: 1, trainSubset: 600, scheduler: 'fifo', sampler: 'random' },
      seed: 5,
    };
    const { study } = await ensureStudy(storage, spec);
    // The model's layout built once in shared memory, as hpo run does.
    let threadData = shared.get(model);
    if (!threadData) shared.set(model, (threadData = shareFashionDataset(dataset, [getModel(model).layout ?? 'flat1'], backend as 'tensorflow')));
    // Each generation: a new pool, two trials more, pool destroyed (all threads exit).
    for (let g = 1; g <= poolGenerations; g++) {
      const pool = new TrialPool({ workers: 2, init: { dataset: threadData, backend: backend as 'tensorflow', intraOpThreads: 1, interOpThreads: 1 } });
      try {
        const summary = await runStudy({
          storage,
          study,
          trials: 2 * g,
          pool,
          scheduler: createScheduler('fifo', { maxEpochs: 1 }),
          sampler: new RandomSampler(),
        });
        assert.equal(summary.counts.completed, 2 * g, `generation ${g}: ${JSON.stringify(summary.counts)}`);
        assert.equal(summary.ran, 2, `generation ${g} trained two trials`);
      } finally {
        await pool.destroy();
      }
    }
    const trials = await storage.getTrials(study.id);
    assert.deepEqual(trials.map((t) => t.number), Array.from({ length: 2 * poolGenerations }, (_, i) => i + 1));
    for (const t of trials) assert.ok(t.value !== null && t.value > 0 && t.value < below, `trial ${t.number} trained: ${t.value}`);
  }

  it('three pool generations train in one process without aborting', async () => {
    await study('churn-a', 'softmax', 3);
  });

  it('a second study right after the first, with another model', async () => {
    await study('churn-b', 'mlp', 1);
    // LeNet too: pool threads load tfjs-core alone (lean), so every model must train there.
    // (One epoch on 600 images leaves the book's sigmoid LeNet at chance, 0.9: any valid
    // error rate will do.)
    await study('churn-c', 'lenet', 1, 1);
  });
});
