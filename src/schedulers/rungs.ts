import type { RungResult } from './scheduler.js';

/**
 * Rung ladders and the promotion rule shared by the successive-halving family.
 */

/**
 * Rung epochs for a successive-halving ladder: r_min * eta^k for every k >= 0 with
 * r_min * eta^k < r_max, then r_max itself (as in d2l 19.3, so r_max need not be
 * r_min times a power of eta). r_min = 2, r_max = 10, eta = 2 gives [2, 4, 8, 10].
 * Expects validated integers: 1 <= rMin <= rMax, eta >= 2.
 */
export function rungLadder(rMin: number, rMax: number, eta: number): number[] {
  const rungs: number[] = [];
  for (let r = rMin; r < rMax; r *= eta) rungs.push(r);
  rungs.push(rMax);
  return rungs;
}

/**
 * Strict rank order at a rung (lower value is better): a ranks before b iff a's value is
 * lower, or the values are equal and a's trial number is lower. NaN ranks after every
 * number (+Infinity included); two NaNs, like two equal numbers, are ordered by trial
 * number. A total order, since trial numbers are unique within a study.
 */
export function ranksBefore(a: RungResult, b: RungResult): boolean {
  const aNaN = Number.isNaN(a.value);
  const bNaN = Number.isNaN(b.value);
  if (aNaN !== bNaN) return bNaN;
  if (!aNaN && a.value !== b.value) return a.value < b.value;
  return a.trialNumber < b.trialNumber;
}

/**
 * 0-based rank of `trial` among the results recorded at a rung: how many of them rank
 * strictly before it (ranksBefore). The trial's own entry, if present, never counts.
 */
export function rungRank(trial: RungResult, results: readonly RungResult[]): number {
  let rank = 0;
  for (const r of results) if (ranksBefore(r, trial)) rank++;
  return rank;
}

/**
 * The promotion rule at a rung. Rank the n results recorded at the rung (the trial's
 * own included) by (value, trial number), ascending: lower value first, and among equal
 * values the LOWER trial number first; NaN is the worst value. The trial continues iff
 * its 0-based rank is < k = max(1, floor(n / eta)), i.e. it is among the top k.
 *
 * Ties are split by trial number, never by arrival order or timing: trial numbers are
 * fixed when trials are created, so the decision is a pure function of the store. Of
 * several trials reporting exactly the same value (e.g. untrained networks all at 0.9
 * error), only as many as fit in the top k continue, the lowest-numbered first; with
 * the former "ties go to the trial" rule they would all have continued and a rung of
 * identical values would never shrink. Without ties this is Optuna's
 * SuccessiveHalvingPruner rule (value <= the k-th smallest value). The first trial at a
 * rung always continues (n = 1, k = 1, rank 0).
 */
export function isPromotable(trial: RungResult, results: readonly RungResult[], eta: number): boolean {
  const keep = Math.max(1, Math.floor(results.length / eta));
  return rungRank(trial, results) < keep;
}
