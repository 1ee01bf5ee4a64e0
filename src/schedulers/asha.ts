import { isPromotable, rungLadder } from './rungs.js';
import type { Decision, DecisionInput, RungStore, Scheduler, TrialPlan } from './scheduler.js';

/**
 * Asynchronous successive halving, stopping variant (Li et al. 2020, "A System for
 * Massively Parallel Hyperparameter Tuning"; d2l 19.4).
 *
 * Every trial is planned for r_max epochs. Rungs are rungLadder(r_min, r_max, eta)
 * (e.g. 2, 4, 8, 10). When a trial reports at a rung epoch below r_max, it continues
 * iff it is promotable among ALL results recorded at that rung so far, its own included
 * (see isPromotable): ranked by (value, trial number) ascending, its 0-based rank is
 * < max(1, floor(n/eta)). Equal values are ordered by trial number, the lower number
 * ranking better, so a rung of identical values (untrained networks all at 0.9 error)
 * still prunes: a later, higher-numbered trial that ties is judged behind every earlier
 * one. Nobody waits: early trials are judged against few competitors and pass
 * generously; the rule tightens as a rung fills. The decision depends only on the store
 * (values and trial numbers, not timing), so it survives restarts and is shared by every
 * process working on the study.
 */
export class AshaScheduler implements Scheduler {
  readonly name: string = 'asha';
  readonly synchronous = false;
  /** Rung epochs, ascending, ending with r_max. */
  readonly rungs: readonly number[];

  constructor(
    readonly minEpochs: number,
    readonly maxEpochs: number,
    readonly eta: number,
  ) {
    this.rungs = rungLadder(minEpochs, maxEpochs, eta);
  }

  plan(): TrialPlan {
    return { maxEpochs: this.maxEpochs, bracket: null };
  }

  async decide(input: DecisionInput, store: RungStore): Promise<Decision> {
    if (input.epoch >= this.maxEpochs || !this.rungs.includes(input.epoch)) return 'continue';
    const results = await store.rungResults(input.studyId, input.epoch, null);
    const own = { trialNumber: input.trialNumber, value: input.value };
    return isPromotable(own, results, this.eta) ? 'continue' : 'stop';
  }

  wake(): void {}
}
