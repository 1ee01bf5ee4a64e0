import { TrialError } from '../errors.js';
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

/** A trial's saved state after `epoch` (see TrialContext.checkpoint). */
export interface TrialCheckpoint {
  readonly epoch: number;
  readonly data: Uint8Array;
}

/** The trial fields a context is made of. */
export type TrialInfo = Pick<TrialContext, 'trialNumber' | 'seed' | 'maxEpochs' | 'settings'> & {
  /** The previous attempt's checkpoint when the trial resumes, else null or absent. */
  readonly resume?: TrialCheckpoint | null;
};

/**
 * A TrialContext whose `report` checks what the objective does (epochs increasing integers,
 * one report in flight at a time) and hands valid reports to `send`, which resolves to the
 * scheduler's stop decision; `checkpoint` hands the state after the last reported epoch to
 * `save` (without one, checkpoints are accepted and dropped). A resumed trial's reports
 * continue after its checkpoint's epoch. Shared by the worker threads and in-process objectives.
 */
export function createTrialContext(
  info: TrialInfo,
  send: (epoch: number, value: number) => Promise<boolean>,
  save?: (epoch: number, data: Uint8Array) => Promise<boolean>,
): TrialContext {
  const resume = info.resume ?? null;
  let lastEpoch = resume?.epoch ?? 0;
  let inFlight = false;
  let saving = false;
  return {
    trialNumber: info.trialNumber,
    seed: info.seed,
    maxEpochs: info.maxEpochs,
    settings: info.settings,
    async report(epoch: number, value: number): Promise<boolean> {
      if (!Number.isInteger(epoch) || epoch <= lastEpoch) {
        throw new TrialError(`report(epoch=${epoch}): epochs must be integers increasing from 1 (last was ${lastEpoch})`);
      }
      if (inFlight) throw new TrialError('report() called again before the previous report was answered (missing await?)');
      lastEpoch = epoch;
      inFlight = true;
      try {
        return await send(epoch, Number(value));
      } finally {
        inFlight = false;
      }
    },
    async checkpoint(data: Uint8Array): Promise<void> {
      if (!(data instanceof Uint8Array)) throw new TrialError('checkpoint(data): data must be a Uint8Array');
      if (lastEpoch === 0) throw new TrialError('checkpoint() before the first report: a checkpoint is the state after the last reported epoch');
      if (saving) throw new TrialError('checkpoint() called again before the previous one was stored (missing await?)');
      saving = true;
      try {
        // false (the trial was taken over) needs no action here: the next report says stop.
        await save?.(lastEpoch, data);
      } finally {
        saving = false;
      }
    },
    restore: () => Promise.resolve(resume === null ? null : { epoch: resume.epoch, data: resume.data }),
  };
}

/**
 * The objective function a module exports (default or `objective`).
 * @throws TrialError when it exports neither.
 */
export function objectiveExport(mod: Record<string, unknown>, path: string): ObjectiveFn {
  const fn = mod['default'] ?? mod['objective'];
  if (typeof fn !== 'function') throw new TrialError(`${path} must export an async function (config, ctx) => number, as default or as "objective"`);
  return fn as ObjectiveFn;
}
