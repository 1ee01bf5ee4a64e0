/** The part of storage a scheduler reads: results recorded at a rung. */
export interface RungStore {
  /** Values reported at `epoch` by all trials of the study (optionally one bracket). */
  rungValues(studyId: number, epoch: number, bracket?: number | null): Promise<number[]>;
}

/** How long trial `number` may train and in which bracket (Hyperband). */
export interface TrialPlan {
  readonly maxEpochs: number;
  readonly bracket: number | null;
}

export type Decision = 'continue' | 'stop';

export interface DecisionInput {
  readonly studyId: number;
  readonly trialNumber: number;
  readonly bracket: number | null;
  /** 1-based epoch just reported; its value is already in the store. */
  readonly epoch: number;
  readonly value: number;
}

/**
 * Decides, at each report, whether a trial goes on. Keeps no state that matters across
 * a crash: every decision is recomputed from the store, so restarts and several
 * processes sharing one study decide alike.
 */
export interface Scheduler {
  readonly name: string;
  /** Pure function of the trial number and the scheduler's settings. */
  plan(trialNumber: number): TrialPlan;
  /**
   * Continue or stop after a report. 'stop' before the trial's maxEpochs means pruned.
   * A synchronous scheduler may resolve only once its rung has filled.
   */
  decide(input: DecisionInput, store: RungStore): Promise<Decision>;
}
