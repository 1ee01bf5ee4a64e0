/** A synthetic study of any size, built in memory (no storage): for size and escaping tests. */
import type { ReportData } from '../../src/report/data.js';
import { studyRungs } from '../../src/report/data.js';
import type { EpochReport, TrialRecord, TrialState } from '../../src/storage/storage.js';
import { SPACE } from './study-fixture.js';

function trial(n: number, state: TrialState, value: number | null, t0: number, extra: Partial<TrialRecord> = {}): TrialRecord {
  return {
    id: n,
    studyId: 1,
    number: n,
    state,
    params: { learning_rate: 0.01 * 1.0009 ** n, num_hiddens: 32 + (n % 480), dropout: (n % 50) / 100, activation: ['relu', 'tanh', 'sigmoid'][n % 3]! },
    value,
    seed: n,
    epochs: 4,
    attempt: 1,
    bracket: null,
    owner: `host${n % 3}:${100 + (n % 3)}:x`,
    startedAt: new Date(t0 + n * 1000).toISOString(),
    finishedAt: state === 'running' ? null : new Date(t0 + n * 1000 + 1800).toISOString(),
    heartbeatAt: null,
    error: null,
    ...extra,
  };
}

export function synthetic(n: number): ReportData {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const trials: TrialRecord[] = [];
  const curves = new Map<number, EpochReport[]>();
  for (let k = 1; k <= n; k++) {
    const state: TrialState = k === n ? 'running' : k % 11 === 0 ? 'failed' : k % 3 === 0 ? 'completed' : 'pruned';
    const epochs = state === 'completed' ? 10 : 1 + (k % 4);
    const curve = Array.from({ length: epochs }, (_, i) => ({ trialId: k, trialNumber: k, epoch: i + 1, value: 0.1 + ((k * 37) % 100) / 300 + 0.5 / (i + 1) }));
    curves.set(k, curve);
    trials.push(trial(k, state, state === 'failed' || state === 'running' ? null : curve[curve.length - 1]!.value, t0, state === 'failed' ? { error: 'x < y & "z"' } : {}));
  }
  return {
    study: { id: 1, name: 'big <study>', objective: 'fashion-mnist', model: 'mlp', space: SPACE, settings: { scheduler: 'asha', epochs: 10, minEpochs: 1, eta: 3 }, seed: 1, createdAt: new Date(t0).toISOString() },
    trials,
    curves,
    rungs: studyRungs({ scheduler: 'asha', epochs: 10, minEpochs: 1, eta: 3 }),
    scheduler: 'asha',
    valueLabel: 'validation error',
    generatedAt: new Date(t0 + (n + 5) * 1000).toISOString(),
  };
}

