import type { Params, SearchSpace } from '../space/distribution.js';
import type { History } from './history.js';

/**
 * What a sampler needs read from storage before each new trial: nothing (random search),
 * the trials (params, state, final value), or the trials with their epoch reports
 * (multi-fidelity modelling from rungs).
 */
export type HistoryNeed = 'none' | 'trials' | 'reports';

/**
 * Proposes configurations. A sampler is a pure function of (space, study seed, trial
 * number, history), where the history is read from storage just before the trial is
 * claimed, never kept in memory between trials: trial k gets the same config whichever
 * process or thread claims it, and on every resume, as long as it sees the same history.
 * With one worker that history is exactly trials 1..k-1 (all finished), so config k
 * depends only on (seed, k, stored trials). With several workers, which trials have
 * finished (and which are still running, seen through the constant liar) when trial k
 * is claimed depends on timing, and so does config k.
 */
export interface Sampler {
  readonly name: string;
  /** What the study runner must fetch before calling sample. */
  readonly needs: HistoryNeed;
  /**
   * Refuse a space this sampler cannot search (e.g. GP with categoricals).
   * @throws UsageError with one line saying why.
   */
  check?(space: SearchSpace): void;
  /** The config of trial `trialNumber` (1-based). `history` defaults to empty. */
  sample(space: SearchSpace, studySeed: number, trialNumber: number, history?: History): Params;
}
