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
  /**
   * Store `data` as this trial's state after the last reported epoch (call it after
   * `report`, before the next epoch). If the run is interrupted (crash, kill, Ctrl-C), the
   * next attempt of the trial gets it back from `restore()` and continues after that epoch;
   * the reports up to it are kept. One checkpoint per trial: each call replaces the last.
   * Deleted when the trial ends unless `--keep-checkpoints`. Resolves once stored.
   * @throws TrialError before the first report, or if the previous call was not awaited.
   */
  checkpoint(data: Uint8Array): Promise<void>;
  /**
   * The checkpoint of the previous attempt of this trial, or null on a fresh start. When not
   * null, report epochs from `epoch + 1` on.
   */
  restore(): Promise<{ readonly epoch: number; readonly data: Uint8Array } | null>;
}

/** A user objective module's export: lower is better. */
export type ObjectiveFn = (config: Params, ctx: TrialContext) => Promise<number> | number;
