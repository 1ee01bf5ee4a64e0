/** What a scheduler needs to know about one trial; a subset of the storage's TrialRecord. */
export interface TrialProgress {
  /** 1-based, unique and dense within a study. */
  readonly number: number;
  /** 'running' | 'completed' | 'pruned' | 'failed' | 'interrupted'. */
  readonly state: string;
  /** Last epoch reported (0 if none). */
  readonly epochs: number;
  readonly bracket: number | null;
}

/** One value recorded at a rung and the trial that reported it (storage's RungResult). */
export interface RungResult {
  /** 1-based trial number, unique within a study: breaks ties between equal values. */
  readonly trialNumber: number;
  readonly value: number;
}

/**
 * The part of storage a scheduler reads. `Storage` satisfies it as is; tests use an
 * in-memory implementation.
 */
export interface RungStore {
  /**
   * Results reported at `epoch` by all trials of the study, each with its trial number;
   * with a bracket, only by the trials of that bracket (null / undefined: all trials).
   * Order unspecified (Storage returns them by value, then number).
   */
  rungResults(studyId: number, epoch: number, bracket?: number | null): Promise<readonly RungResult[]>;
  /**
   * Every trial of the study. Only synchronous successive halving reads it, to know when
   * a round has filled a rung (which members are still on their way, which finished).
   */
  getTrials(studyId: number): Promise<readonly TrialProgress[]>;
}

/** How long trial `number` may train and in which bracket (Hyperband) or round (SH). */
export interface TrialPlan {
  readonly maxEpochs: number;
  readonly bracket: number | null;
}

export type Decision = 'continue' | 'stop';

export interface DecisionInput {
  readonly studyId: number;
  readonly trialNumber: number;
  /** The bracket the trial was planned with (TrialPlan.bracket, stored on the trial). */
  readonly bracket: number | null;
  /** 1-based epoch just reported; its value is already in the store. */
  readonly epoch: number;
  readonly value: number;
  /**
   * Aborts a decision that is waiting (synchronous schedulers only): the promise then
   * rejects with `signal.reason`. The runner aborts on shutdown; the trial is left for
   * another process to resume.
   */
  readonly signal?: AbortSignal;
}

/**
 * Decides, at each report, whether a trial goes on. Keeps no state that matters across
 * a crash: every decision is recomputed from the store, so restarts and several
 * processes sharing one study decide alike.
 */
export interface Scheduler {
  readonly name: string;
  /**
   * True when `decide` may wait for other trials (synchronous successive halving). The
   * runner must then not let a waiting trial hold a worker, or a round larger than the
   * pool never fills: it parks the trial and starts others.
   */
  readonly synchronous: boolean;
  /** Pure function of the trial number and the scheduler's settings. */
  plan(trialNumber: number): TrialPlan;
  /**
   * Continue or stop after a report. 'stop' before the trial's maxEpochs means pruned;
   * at maxEpochs the answer is always 'continue' (the trial completes).
   * A synchronous scheduler may resolve only once its rung has filled.
   */
  decide(input: DecisionInput, store: RungStore): Promise<Decision>;
  /**
   * Tell a synchronous scheduler that the store changed (a report was recorded, a trial
   * finished or was interrupted), so waiting decisions look again now rather than at
   * their next poll. Optional to call; a no-op for asynchronous schedulers.
   */
  wake(): void;
}
