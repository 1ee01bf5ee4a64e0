/**
 * Samplers learn only from storage: with one worker, config k is a function of (seed, k,
 * stored trials 1..k-1), whether the study ran in one go or was stopped and resumed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStudy } from '../../src/study/study.js';
import { createSampler } from '../../src/samplers/registry.js';
import { toObservations } from '../../src/samplers/history.js';
import { parseSpace, type Params } from '../../src/space/distribution.js';

const tempDb = (name: string): string => join(mkdtempSync(join(tmpdir(), 'hpo-hist-')), `${name}.db`);
const space = { x1: { type: 'uniform', low: -5, high: 10 }, x2: { type: 'uniform', low: 0, high: 15 }, n: { type: 'int', low: 1, high: 4 } };
async function branin(p: Params): Promise<number> {
  const x1 = p['x1'] as number;
  const x2 = p['x2'] as number;
  return (x2 - (5.1 / (4 * Math.PI ** 2)) * x1 * x1 + (5 / Math.PI) * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10 + (p['n'] as number);
}

async function paramsOf(storage: string, sampler: string, stops: number[]): Promise<{ params: Params[]; rows: Awaited<ReturnType<Awaited<ReturnType<typeof openStudy>>['trials']>> }> {
  for (const trials of stops) {
    const study = await openStudy({ storage, name: 's', objective: branin, space, seed: 3, sampler });
    await study.optimize({ trials, workers: 1 });
    await study.close();
  }
  const study = await openStudy({ storage, name: 's', objective: branin });
  const rows = await study.trials();
  await study.close();
  return { params: rows.map((t) => t.params), rows };
}

describe('sampler history comes from storage', () => {
  for (const sampler of ['tpe', 'tpe-multivariate', 'gp']) {
    it(`${sampler}, 1 worker: one run = stopped at 11 and 17 and resumed = sampling from the stored trials`, async () => {
      const once = await paramsOf(tempDb('once'), sampler, [24]);
      const resumed = await paramsOf(tempDb('resumed'), sampler, [11, 17, 24]);
      assert.equal(once.params.length, 24);
      assert.deepEqual(resumed.params, once.params);
      // Config k is exactly what the sampler proposes from the stored trials before k.
      const s = createSampler(sampler);
      for (const k of [11, 15, 24]) {
        const before = once.rows.filter((t) => t.number < k);
        const history = {
          trials: toObservations(before.map((t) => ({ number: t.number, state: t.state, params: t.params, value: t.value, reports: [] }))),
        };
        assert.deepEqual(s.sample(parseSpace(space), 3, k, history), once.params[k - 1]);
      }
      // Past the random startup (10 trials) the model is in charge: configs differ from random search's.
      const random = createSampler('random');
      assert.notDeepEqual(once.params[20], random.sample(parseSpace(space), 3, 21));
    });
  }
});
