import { UsageError } from '../errors.js';
import { AshaScheduler } from './asha.js';
import { FifoScheduler } from './fifo.js';
import { HyperbandScheduler } from './hyperband.js';
import type { Scheduler } from './scheduler.js';
import { SuccessiveHalvingScheduler } from './successive-halving.js';

export const SCHEDULER_NAMES = ['fifo', 'asha', 'successive-halving', 'hyperband'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** Short names accepted wherever a scheduler is named; studies store the full name. */
export const SCHEDULER_ALIASES: Readonly<Record<string, SchedulerName>> = { sh: 'successive-halving' };

/** The full name for `name` (aliases resolved; anything else returned as is). */
export function schedulerName(name: string): string {
  return SCHEDULER_ALIASES[name] ?? name;
}

export const DEFAULT_ETA = 2;
export const DEFAULT_MIN_EPOCHS = 1;

export interface SchedulerOptions {
  /** r_max: epochs of a trial that is never stopped. Integer >= 1. */
  readonly maxEpochs: number;
  /** r_min: the first rung. Integer, 1 <= minEpochs <= maxEpochs. Default 1. */
  readonly minEpochs?: number;
  /**
   * Reduction factor: rungs grow by eta, 1/eta of a rung is promoted. Integer >= 2, so
   * rung epochs stay integers and "top 1/eta" is exact. Default 2, as in d2l and the
   * CLI (Hyperband / ASHA papers often use 3 or 4).
   */
  readonly eta?: number;
  /** successive-halving only: trials per round. Integer >= 1. Default eta^K (K + 1 rungs). */
  readonly trialsPerRound?: number;
  /** successive-halving only: the study's trial budget (sizes a partial last round). Integer >= 1. */
  readonly maxTrials?: number;
  /** successive-halving only: re-check interval of a waiting decision, ms. > 0, Infinity allowed. Default 200. */
  readonly pollMs?: number;
}

function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER, hint = `>= ${min}`): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`scheduler: ${name} must be an integer ${hint}, got ${String(value)}`);
  }
  return value;
}

/**
 * The scheduler called `name`, with validated options. Options a scheduler does not use
 * are still validated, then ignored (so a CLI may pass the same set to every scheduler).
 * @throws UsageError for an unknown name or a bad option (one line, names the option).
 */
export function createScheduler(alias: string, opts: SchedulerOptions): Scheduler {
  const name = schedulerName(alias);
  if (!(SCHEDULER_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`unknown scheduler "${name}"; valid: ${SCHEDULER_NAMES.join(', ')}`);
  }
  const maxEpochs = integer('maxEpochs', opts.maxEpochs, 1);
  const minEpochs = integer(
    'minEpochs',
    opts.minEpochs ?? DEFAULT_MIN_EPOCHS,
    1,
    maxEpochs,
    `between 1 and maxEpochs (${maxEpochs})`,
  );
  const eta = integer('eta', opts.eta ?? DEFAULT_ETA, 2);
  const trialsPerRound = opts.trialsPerRound === undefined ? undefined : integer('trialsPerRound', opts.trialsPerRound, 1);
  const maxTrials = opts.maxTrials === undefined ? undefined : integer('maxTrials', opts.maxTrials, 1);
  const pollMs = opts.pollMs;
  if (pollMs !== undefined && (typeof pollMs !== 'number' || Number.isNaN(pollMs) || pollMs <= 0)) {
    throw new UsageError(`scheduler: pollMs must be a number > 0, got ${String(pollMs)}`);
  }
  switch (name as SchedulerName) {
    case 'fifo':
      return new FifoScheduler(maxEpochs);
    case 'asha':
      return new AshaScheduler(minEpochs, maxEpochs, eta);
    case 'hyperband':
      return new HyperbandScheduler(minEpochs, maxEpochs, eta);
    case 'successive-halving':
      return new SuccessiveHalvingScheduler({ minEpochs, maxEpochs, eta, trialsPerRound, maxTrials, pollMs });
  }
}
