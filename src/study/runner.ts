/**
 * The ask/tell loop: claim a trial in storage (committed first), sample its config from
 * (seed, number), train it on a pool thread, store every report before the scheduler
 * decides on it, and store the outcome. Everything a restart needs is in storage.
 * This file trains one trial per task; the claiming, heartbeats, reports, decisions and
 * checkpoints are shared with the packed loop (pack-runner.ts) in study-loop.ts.
 */
import { StorageError, TrialInterruptedError, errorMessage } from '../errors.js';
import type { Sampler } from '../samplers/sampler.js';
import type { Scheduler } from '../schedulers/scheduler.js';
import type { Storage, StudyRecord, TrialRecord, TrialState } from '../storage/storage.js';
import type { TrialExecutor } from './executor.js';
import { StudyLoop } from './study-loop.js';

export type StudyEvent =
  | { type: 'resumed'; completed: number; interrupted: number; recovered: number }
  | { type: 'trial-start'; trial: TrialRecord; maxEpochs: number; resumedFrom?: number }
  | { type: 'report'; trial: TrialRecord; epoch: number; value: number }
  | { type: 'trial-end'; trial: TrialRecord; state: TrialState; value: number | null; epochs: number; error: string | null }
  | { type: 'waiting'; running: number }
  /** The database is unreachable and calls are being retried (see RetryingStorage). */
  | { type: 'db-retrying'; elapsedMs: number; message: string }
  | { type: 'db-recovered'; elapsedMs: number }
  | { type: 'error'; trial: TrialRecord; message: string };

export interface RunOptions {
  readonly storage: Storage;
  readonly study: StudyRecord;
  /** Budget: the study ends when this many trials have finished (completed, pruned or failed). */
  readonly trials: number;
  /** Where trials train: the worker-thread pool, or an in-process executor. */
  readonly pool: TrialExecutor;
  readonly scheduler: Scheduler;
  readonly sampler: Sampler;
  /** Heartbeat period of running trials (default 5 s). */
  readonly heartbeatMs?: number;
  /** A running trial whose heartbeat is older than this is presumed dead (default 60 s). */
  readonly staleAfterMs?: number;
  /** How often to look again while other processes still run this study's last trials. */
  readonly pollMs?: number;
  /** Aborting stops dispatching, ends running trials as interrupted, and returns. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: StudyEvent) => void;
  /** Keep the checkpoints of finished trials (default false: deleted when a trial ends). */
  readonly keepCheckpoints?: boolean;
}

export interface RunSummary {
  readonly ran: number;
  readonly counts: Record<TrialState, number>;
  readonly best: TrialRecord | undefined;
  readonly aborted: boolean;
}

/** Run (or resume) a study until its budget is met or `signal` aborts: one trial per task. */
export async function runStudy(opts: RunOptions): Promise<RunSummary> {
  const { pool, study } = opts;
  const loop = await StudyLoop.start({ ...opts, workers: pool.workers, destroy: () => pool.destroy() });

  const execute = async (trial: TrialRecord): Promise<void> => {
    const a = await loop.attempt(trial, { deciding: 0 });
    let state: 'completed' | 'pruned' | 'failed' | 'interrupted';
    let value: number | null = null;
    let error: string | null = null;
    try {
      const out = await pool.run(
        {
          trialNumber: trial.number,
          seed: trial.seed,
          maxEpochs: a.plan.maxEpochs,
          params: trial.params,
          objective: study.objective,
          model: study.model,
          settings: { ...study.settings, epochs: a.plan.maxEpochs },
          resume: a.resume,
        },
        a.report,
        a.checkpoint,
      );
      if (a.failure) {
        state = 'failed';
        error = a.failure;
      } else if (!Number.isFinite(out.value)) {
        state = 'failed';
        error = `objective returned ${out.value}`;
      } else if (a.prunedAt !== null) {
        state = 'pruned';
        value = a.lastValue;
      } else {
        state = 'completed';
        value = out.value;
      }
    } catch (e) {
      // The trial did nothing wrong: its report or checkpoint could not be stored.
      if (e instanceof StorageError) throw e;
      if (loop.stopped) {
        state = 'interrupted';
        error = 'interrupted: the run was stopped';
      } else if (e instanceof TrialInterruptedError) {
        // Claimed again by this run (interrupted trials come first), from its checkpoint.
        state = 'interrupted';
        error = e.message;
      } else {
        state = 'failed';
        error = a.failure ?? errorMessage(e);
      }
    }
    await a.finish(state, value, error);
  };

  return loop.run({
    next: async () => {
      const trial = await loop.claim();
      return trial && { trial, done: execute(trial) };
    },
  });
}
