/** The commands that only read: best, trials, studies, sql. */
import { UsageError } from '../../errors.js';
import { TRIAL_STATES, type TrialRecord, type TrialState } from '../../storage/storage.js';
import { findStudy, withStorage } from '../common.js';
import { csv, fmtDuration, fmtParams, fmtValue, table, toJson } from '../format.js';

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
};

export function trialJson(t: TrialRecord, study: string): Record<string, unknown> {
  return {
    study,
    number: t.number,
    state: t.state,
    value: t.value,
    params: t.params,
    epochs: t.epochs,
    attempt: t.attempt,
    seed: t.seed,
    bracket: t.bracket,
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
    error: t.error,
  };
}

function durationMs(t: TrialRecord): number {
  if (!t.startedAt || !t.finishedAt) return NaN;
  return Date.parse(t.finishedAt) - Date.parse(t.startedAt);
}

export async function bestCommand(a: { storage: string; study?: string | undefined; json: boolean }): Promise<void> {
  await withStorage(a.storage, async (storage) => {
    const study = await findStudy(storage, a.study);
    const best = await storage.bestTrial(study.id);
    if (!best) throw new UsageError(`study "${study.name}" has no completed trial yet`);
    if (a.json) return out(toJson(trialJson(best, study.name)));
    out(`study "${study.name}": best trial ${best.number}, value ${fmtValue(best.value)} after ${best.epochs} epoch(s)`);
    for (const [k, v] of Object.entries(best.params)) out(`  ${k} = ${fmtValue(v)}`);
  });
}

export async function trialsCommand(a: {
  storage: string;
  study?: string | undefined;
  json: boolean;
  csv: boolean;
  state?: string[] | undefined;
  sort: string;
}): Promise<void> {
  if (a.json && a.csv) throw new UsageError('choose one of --json and --csv');
  await withStorage(a.storage, async (storage) => {
    const study = await findStudy(storage, a.study);
    const states = a.state?.map((s) => {
      if (!(TRIAL_STATES as readonly string[]).includes(s)) throw new UsageError(`--state ${s}: expected one of ${TRIAL_STATES.join(', ')}`);
      return s as TrialState;
    });
    const trials = await storage.getTrials(study.id, states ? { states } : {});
    if (a.sort === 'value') trials.sort((x, y) => (x.value ?? Infinity) - (y.value ?? Infinity) || x.number - y.number);
    if (a.json) return out(toJson(trials.map((t) => trialJson(t, study.name))));
    const paramNames = Object.keys(study.space);
    if (a.csv) {
      const cols = ['number', 'state', 'value', 'epochs', 'attempt', ...paramNames, 'started_at', 'finished_at', 'error'];
      return out(csv(cols, trials.map((t) => [t.number, t.state, t.value, t.epochs, t.attempt, ...paramNames.map((p) => t.params[p]), t.startedAt, t.finishedAt, t.error])));
    }
    if (trials.length === 0) return out(`study "${study.name}" has no trials${states ? ` in state ${states.join('/')}` : ''}`);
    const rows = trials.map((t) => [
      t.number,
      t.state,
      t.value,
      t.epochs,
      t.attempt,
      fmtDuration(durationMs(t)),
      fmtParams(t.params),
      t.error ? t.error.slice(0, 60) : '',
    ]);
    out(table(['#', 'state', 'value', 'epochs', 'attempt', 'time', 'params', 'error'], rows));
  });
}

export async function studiesCommand(a: { storage: string; json: boolean }): Promise<void> {
  await withStorage(a.storage, async (storage) => {
    const all = await storage.listStudies();
    if (a.json) return out(toJson(all));
    if (all.length === 0) return out(`${storage.location} has no studies`);
    out(
      table(
        ['study', 'objective', 'completed', 'pruned', 'failed', 'running', 'interrupted', 'best', 'created'],
        all.map((s) => [s.name, s.model ?? s.objective, s.counts.completed, s.counts.pruned, s.counts.failed, s.counts.running, s.counts.interrupted, s.best, s.createdAt]),
      ),
    );
  });
}

export async function sqlCommand(a: { storage: string; query: string; json: boolean; csv: boolean }): Promise<void> {
  if (a.json && a.csv) throw new UsageError('choose one of --json and --csv');
  if (!a.query.trim()) throw new UsageError('give a SELECT statement');
  await withStorage(a.storage, async (storage) => {
    const rows = await storage.query(a.query);
    if (a.json) return out(toJson(rows));
    const cols = rows.length ? Object.keys(rows[0]!) : [];
    if (a.csv) return out(csv(cols, rows.map((r) => cols.map((c) => r[c]))));
    if (rows.length === 0) return out('(no rows)');
    out(table(cols, rows.map((r) => cols.map((c) => r[c]))));
    out(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  });
}
