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

/** NaN counts as the worst possible value, so it never beats anything. */
function score(x: number): number {
  return Number.isNaN(x) ? Number.POSITIVE_INFINITY : x;
}

/**
 * The promotion rule at a rung (lower is better): with the n values recorded at the
 * rung (the trial's own included), the trial continues iff fewer than
 * max(1, floor(n / eta)) values are strictly better than its own.
 *
 * Equivalently: value <= the k-th smallest value, k = max(1, floor(n / eta)), which is
 * Optuna's SuccessiveHalvingPruner rule. Ties go to the trial (never split by arrival
 * order), so the first trial at a rung always continues (n = 1, k = 1).
 */
export function isPromotable(value: number, rungValues: readonly number[], eta: number): boolean {
  const own = score(value);
  const keep = Math.max(1, Math.floor(rungValues.length / eta));
  let better = 0;
  for (const v of rungValues) if (score(v) < own) better++;
  return better < keep;
}
