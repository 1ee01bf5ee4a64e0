import type { Params } from '../space/distribution.js';

/** What an objective function sees besides its config. */
export interface TrialContext {
  /** 1-based trial number within the study. */
  readonly trialNumber: number;
  /** Per-trial seed derived from (study seed, trial number). */
  readonly seed: number;
  /** Epoch budget the scheduler granted this trial. */
  readonly maxEpochs: number;
  /** Study settings (epochs, trainSubset, ...). */
  readonly settings: Readonly<Record<string, unknown>>;
  /**
   * Report the validation value after `epoch` (1-based, increasing). Resolves to true
   * when the scheduler says stop: the objective should then return promptly.
   */
  report(epoch: number, value: number): Promise<boolean>;
}

/** A user objective module's export: lower is better. */
export type ObjectiveFn = (config: Params, ctx: TrialContext) => Promise<number> | number;
