/** A small study written through the Storage interface, with every state and parameter kind. */
import type { Storage, StudyRecord } from '../../src/storage/storage.js';
import type { SearchSpace } from '../../src/space/distribution.js';

export const SPACE: SearchSpace = {
  learning_rate: { type: 'loguniform', low: 0.01, high: 1 },
  num_hiddens: { type: 'int', low: 32, high: 512, log: true },
  dropout: { type: 'uniform', low: 0, high: 0.5 },
  activation: { type: 'categorical', choices: ['relu', 'tanh', 'sigmoid'] },
};

const frac = (n: number, k: number): number => ((n * 0.6180339887 + k * 0.41421356) % 1 + 1) % 1;

/**
 * `n` trials of an ASHA-like study (rungs 1, 2, 4, 8): trial k stops at a rung or runs to
 * 8 epochs; every 7th fails, the last one is left running.
 */
export async function populate(storage: Storage, name: string, n: number, owner = 'testhost:4242:abc'): Promise<StudyRecord> {
  const { study } = await storage.createStudy({
    name,
    objective: 'fashion-mnist',
    model: 'mlp',
    space: SPACE,
    settings: { epochs: 8, trainSubset: 10000, scheduler: 'asha', sampler: 'random', minEpochs: 1, eta: 2 },
    seed: 1,
  });
  for (let k = 1; k <= n; k++) {
    const t = await storage.claimTrial({
      studyId: study.id,
      maxTrials: n,
      owner,
      staleAfterMs: 60_000,
      newTrial: (num) => ({
        params: {
          learning_rate: 0.01 * 100 ** frac(num, 1),
          num_hiddens: Math.round(32 * 16 ** frac(num, 2)),
          dropout: 0.5 * frac(num, 3),
          activation: (['relu', 'tanh', 'sigmoid'] as const)[num % 3]!,
        },
        seed: num,
        bracket: null,
      }),
    });
    if (!t) throw new Error('claim failed');
    const stopAt = [1, 2, 4, 8][k % 4]!;
    const base = 0.12 + 0.3 * frac(k, 4);
    let value = 0;
    for (let e = 1; e <= stopAt; e++) {
      value = base + 0.5 * Math.exp(-e / 2);
      await storage.recordReport(t.id, t.attempt, e, value);
    }
    if (k === n) continue; // running
    if (k % 7 === 0) await storage.finishTrial(t.id, t.attempt, { state: 'failed', value: null, error: 'objective threw: out of memory' });
    else await storage.finishTrial(t.id, t.attempt, { state: stopAt === 8 ? 'completed' : 'pruned', value });
  }
  return study;
}
