/**
 * Turn a history into what a model learns from: scored trials (lower is better) and
 * trials known or assumed bad. Shared by TPE and GP.
 *
 * - Single fidelity: completed trials are scored by their value; pruned trials and running
 *   ones (the constant liar: a trial under way on another worker counts as bad, so
 *   parallel workers do not all propose the same point) are bad.
 * - Multi-fidelity (a scheduler that stops trials at rungs): the model uses the highest
 *   epoch at which at least `minPerRung` trials have reported, scoring every trial that
 *   reached it by its value there (BOHB's choice of budget); trials stopped below it are
 *   bad, and so are running trials that have not reached it yet.
 */
import type { Params } from '../space/distribution.js';
import type { History } from './history.js';

export interface ScoredTrial {
  readonly number: number;
  readonly params: Params;
  readonly score: number;
}

export interface Scored {
  /** Ascending by trial number. */
  readonly scored: readonly ScoredTrial[];
  /** Params of trials counted as bad (pruned below the chosen epoch, running), ascending by number. */
  readonly bad: readonly { readonly number: number; readonly params: Params }[];
  /** The epoch the scores come from, or null for final values. */
  readonly epoch: number | null;
}

export function scoreHistory(history: History, opts: { fidelity: boolean; minPerRung: number }): Scored {
  const trials = history.trials;
  if (opts.fidelity) {
    const counts = new Map<number, number>();
    for (const t of trials) for (const [e] of t.reports) counts.set(e, (counts.get(e) ?? 0) + 1);
    let epoch = -1;
    for (const [e, c] of counts) if (c >= opts.minPerRung && e > epoch) epoch = e;
    if (epoch > 0) {
      const scored: ScoredTrial[] = [];
      const bad: { number: number; params: Params }[] = [];
      for (const t of trials) {
        const r = t.reports.find(([e]) => e === epoch);
        if (r) scored.push({ number: t.number, params: t.params, score: r[1] });
        else bad.push({ number: t.number, params: t.params });
      }
      return { scored, bad, epoch };
    }
  }
  const scored: ScoredTrial[] = [];
  const bad: { number: number; params: Params }[] = [];
  for (const t of trials) {
    if (t.state === 'completed' && t.value !== null) scored.push({ number: t.number, params: t.params, score: t.value });
    else bad.push({ number: t.number, params: t.params });
  }
  return { scored, bad, epoch: null };
}

/** Number of finished (completed or pruned) trials: the startup phase lasts until it reaches n_startup. */
export function finishedCount(history: History): number {
  let n = 0;
  for (const t of history.trials) if (t.state !== 'running') n++;
  return n;
}
