import { isPromotable, rungLadder } from './rungs.js';
import type { Decision, DecisionInput, RungStore, Scheduler, TrialPlan } from './scheduler.js';

/**
 * Hyperband (Li et al. 2018), ASYNCHRONOUS variant: each bracket runs ASHA (stopping
 * rule of isPromotable: continue iff the trial's 0-based rank by (value, trial number)
 * among the bracket's n results at the rung is < max(1, floor(n/eta)); equal values rank
 * by trial number, lower first) on its own rungs, as proposed in the ASHA paper and done by
 * Syne Tune. The synchronous original would make workers idle while a bracket's rung
 * fills; here nobody ever waits, and decisions are recomputed from the store.
 *
 * Brackets. With the ladder L = rungLadder(r_min, r_max, eta) = [L_0 .. L_K], bracket s
 * (0 <= s <= s_max = K, Li et al.'s notation: s = number of halvings) starts at rung
 * L_{K-s}: bracket s_max uses every rung (most aggressive), bracket 0 trains every trial
 * to r_max without stopping. L_{K-s} is r_max * eta^-s rounded down the ladder, which
 * keeps rungs on integer epochs when r_max is not r_min times a power of eta.
 * Rung values are separated per bracket (the trial's bracket field).
 *
 * Assignment. Trial numbers cycle deterministically over brackets with Hyperband's
 * weights n_s = ceil((s_max + 1) / (s + 1) * eta^s) (the number of configurations bracket
 * s starts with): a cycle is sum(n_s) trials long, bracket s gets n_s of them,
 * interleaved by smooth weighted round-robin (ties: larger s first) so that short studies
 * still see every bracket. A pure function of the trial number and settings.
 */
export class HyperbandScheduler implements Scheduler {
  readonly name = 'hyperband';
  readonly synchronous = false;
  /** The full ladder L_0 .. L_K. */
  readonly ladder: readonly number[];
  readonly maxBracket: number;
  /** n_s indexed by s. */
  readonly bracketWeights: readonly number[];
  /** Bracket of each position of one assignment cycle. */
  readonly cycle: readonly number[];

  constructor(
    readonly minEpochs: number,
    readonly maxEpochs: number,
    readonly eta: number,
  ) {
    this.ladder = rungLadder(minEpochs, maxEpochs, eta);
    this.maxBracket = this.ladder.length - 1;
    const sMax = this.maxBracket;
    this.bracketWeights = Array.from({ length: sMax + 1 }, (_, s) =>
      Math.ceil(((sMax + 1) / (s + 1)) * eta ** s),
    );
    this.cycle = smoothWeightedRoundRobin(this.bracketWeights);
  }

  /** Bracket s of trial `trialNumber` (1-based). */
  bracketOf(trialNumber: number): number {
    const s = this.cycle[(trialNumber - 1) % this.cycle.length];
    if (s === undefined) throw new RangeError(`trial number must be a positive integer, got ${trialNumber}`);
    return s;
  }

  /** Rung epochs of bracket s, ascending, ending with r_max. */
  rungsOf(bracket: number): readonly number[] {
    return this.ladder.slice(this.maxBracket - bracket);
  }

  plan(trialNumber: number): TrialPlan {
    return { maxEpochs: this.maxEpochs, bracket: this.bracketOf(trialNumber) };
  }

  async decide(input: DecisionInput, store: RungStore): Promise<Decision> {
    if (input.epoch >= this.maxEpochs) return 'continue';
    // The stored bracket wins; recompute only if the runner did not keep it.
    const bracket = input.bracket ?? this.bracketOf(input.trialNumber);
    if (!this.rungsOf(bracket).includes(input.epoch)) return 'continue';
    const results = await store.rungResults(input.studyId, input.epoch, bracket);
    const own = { trialNumber: input.trialNumber, value: input.value };
    return isPromotable(own, results, this.eta) ? 'continue' : 'stop';
  }

  wake(): void {}
}

/**
 * One cycle of smooth weighted round-robin: each step every index gains its weight, the
 * largest current total is picked (ties: the highest index) and loses the sum of weights.
 * Index i appears weights[i] times in a cycle of sum(weights) steps, spread out.
 */
function smoothWeightedRoundRobin(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  const order: number[] = [];
  for (let step = 0; step < total; step++) {
    let pick = -1;
    for (let i = weights.length - 1; i >= 0; i--) {
      current[i] = (current[i] ?? 0) + (weights[i] ?? 0);
      if (pick < 0 || (current[i] ?? 0) > (current[pick] ?? 0)) pick = i;
    }
    current[pick] = (current[pick] ?? 0) - total;
    order.push(pick);
  }
  return order;
}
