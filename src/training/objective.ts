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
}

/** A user objective module's export: lower is better. */
export type ObjectiveFn = (config: Params, ctx: TrialContext) => Promise<number> | number;

/** The trial fields a context is made of. */
export type TrialInfo = Pick<TrialContext, 'trialNumber' | 'seed' | 'maxEpochs' | 'settings'>;

/**
 * A TrialContext whose `report` checks what the objective does (epochs increasing integers,
 * one report in flight at a time) and hands valid reports to `send`, which resolves to the
 * scheduler's stop decision. Shared by the worker threads and in-process objectives.
 */
export function createTrialContext(info: TrialInfo, send: (epoch: number, value: number) => Promise<boolean>): TrialContext {
  let lastEpoch = 0;
  let inFlight = false;
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
