/**
 * The ask/tell loop: claim a trial in storage (committed first), sample its config from
 * (seed, number), train it on a pool thread, store every report before the scheduler
 * decides on it, and store the outcome. Everything a restart needs is in storage.
 */
import { StorageError, TrialInterruptedError, errorMessage } from '../errors.js';
import { completeConfig } from '../samplers/complete-config.js';
import { EMPTY_HISTORY, HistoryReader } from '../samplers/history.js';
import type { Sampler } from '../samplers/sampler.js';
import { trialSeed } from '../samplers/random-sampler.js';
import type { Scheduler } from '../schedulers/scheduler.js';
import type { Storage, StudyRecord, TrialRecord, TrialState } from '../storage/storage.js';
import type { TrialExecutor } from './executor.js';
import { isDeadLocalOwner, makeOwner } from './owner.js';

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

interface Active {
  readonly trial: TrialRecord;
  readonly done: Promise<void>;
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** What both study loops (one trial per task, and packed) set up before they claim anything. */
export interface RunStart {
  readonly emit: (e: StudyEvent) => void;
  /** This process's owner id for claims and heartbeats. */
  readonly owner: string;
  readonly heartbeatMs: number;
  readonly staleAfterMs: number;
  readonly pollMs: number;
  /** Interrupt the running trials of processes of this host that no longer exist; returns how many. */
  readonly interruptDeadLocal: () => Promise<number>;
  /** State counts after the dead local owners' trials were interrupted. */
  readonly before: Record<TrialState, number>;
}

/**
 * Defaults, an owner id, and recovery: trials left running by dead processes of this host are
 * interrupted at once (other hosts' trials are judged by their heartbeat inside claimTrial);
 * emits 'resumed' when the study already has trials.
 */
export async function beginRun(
  opts: Pick<RunOptions, 'storage' | 'study' | 'onEvent' | 'heartbeatMs' | 'staleAfterMs' | 'pollMs'>,
): Promise<RunStart> {
  const { storage, study } = opts;
  const emit = opts.onEvent ?? ((): void => {});
  const owner = makeOwner();
  const heartbeatMs = opts.heartbeatMs ?? 5000;
  const staleAfterMs = opts.staleAfterMs ?? 60_000;
  const pollMs = opts.pollMs ?? Math.min(heartbeatMs, 2000);
  const interruptDeadLocal = async (): Promise<number> => {
    const dead = (await storage.runningOwners(study.id)).filter((o) => isDeadLocalOwner(o, owner));
    return dead.length ? storage.interruptOwners(study.id, dead, 'interrupted: its process died') : 0;
  };
  const recovered = await interruptDeadLocal();
  const before = await storage.stateCounts(study.id);
  if (before.completed + before.pruned + before.failed + before.interrupted > 0) {
    emit({ type: 'resumed', completed: before.completed, interrupted: before.interrupted, recovered });
  }
  return { emit, owner, heartbeatMs, staleAfterMs, pollMs, interruptDeadLocal, before };
}

/** Run (or resume) a study until its budget is met or `signal` aborts. */
export async function runStudy(opts: RunOptions): Promise<RunSummary> {
  const { storage, study, pool, scheduler, sampler, signal } = opts;
  const { emit, owner, heartbeatMs, staleAfterMs, pollMs, interruptDeadLocal } = await beginRun(opts);

  const active = new Map<number, Active>();
  let ran = 0;
  // A storage failure that retrying did not cure (disk full, read-only, outage past the
  // budget): nothing more can be recorded, so the run stops and reports this one error.
  let fatal: unknown;
  let wake: () => void = () => {};
  const aborted = (): boolean => signal?.aborted === true;
  signal?.addEventListener(
    'abort',
    () => {
      wake();
      // Stop training now rather than at the next report; the trials become interrupted.
      pool.destroy().catch(() => {});
    },
    { once: true },
  );
  // Trials waiting for a synchronous scheduler's rung to fill; they do not count against
  // the pool's workers, or a round larger than the pool would never fill.
  let parked = 0;

  const heartbeat = setInterval(() => {
    if (active.size === 0) return;
    storage.heartbeat(owner, [...active.keys()]).catch(() => {});
  }, heartbeatMs);
  heartbeat.unref();

  const execute = async (trial: TrialRecord): Promise<void> => {
    const plan = scheduler.plan(trial.number);
    // An interrupted trial continues after its last checkpoint (reports up to it were kept).
    const cp = trial.attempt > 1 && trial.epochs > 0 ? await storage.loadCheckpoint(trial.id) : undefined;
    const resume = cp !== undefined && cp.epoch === trial.epochs && cp.epoch < plan.maxEpochs ? cp : null;
    emit({ type: 'trial-start', trial, maxEpochs: plan.maxEpochs, ...(resume ? { resumedFrom: resume.epoch } : {}) });
    let lastEpoch = resume?.epoch ?? 0;
    let lastValue: number | null = null;
    let prunedAt: number | null = null;
    let lost = false;
    let failure: string | null = null;
    const onReport = async (epoch: number, value: number): Promise<boolean> => {
      if (aborted() || lost || failure) return true;
      if (!Number.isFinite(value)) {
        failure = `reported a non-finite value (${value}) at epoch ${epoch}`;
        return true;
      }
      if (epoch > plan.maxEpochs) {
        failure = `reported epoch ${epoch} beyond its budget of ${plan.maxEpochs} epochs`;
        return true;
      }
      if (!(await storage.recordReport(trial.id, trial.attempt, epoch, value))) {
        lost = true;
        return true;
      }
      lastEpoch = epoch;
      lastValue = value;
      emit({ type: 'report', trial, epoch, value });
      if (epoch >= plan.maxEpochs) return true;
      scheduler.wake();
      let d: 'continue' | 'stop';
      parked++;
      if (scheduler.synchronous) wake();
      try {
        d = await scheduler.decide(
          { studyId: study.id, trialNumber: trial.number, bracket: trial.bracket, epoch, value, ...(signal ? { signal } : {}) },
          storage,
        );
      } finally {
        parked--;
      }
      if (d === 'stop') prunedAt = epoch;
      return d === 'stop';
    };
    const onCheckpoint = async (epoch: number, data: Uint8Array): Promise<boolean> => {
      if (aborted() || lost || failure || fatal !== undefined) return false;
      if (!(await storage.saveCheckpoint(trial.id, trial.attempt, epoch, data))) {
        lost = true;
        return false;
      }
      return true;
    };
    let state: 'completed' | 'pruned' | 'failed' | 'interrupted';
    let value: number | null = null;
    let error: string | null = null;
    try {
      const out = await pool.run(
        {
          trialNumber: trial.number,
          seed: trial.seed,
          maxEpochs: plan.maxEpochs,
          params: trial.params,
          objective: study.objective,
          model: study.model,
          settings: { ...study.settings, epochs: plan.maxEpochs },
          resume,
        },
        onReport,
        onCheckpoint,
      );
      if (failure) {
        state = 'failed';
        error = failure;
      } else if (!Number.isFinite(out.value)) {
        state = 'failed';
        error = `objective returned ${out.value}`;
      } else if (prunedAt !== null) {
        state = 'pruned';
        value = lastValue;
      } else {
        state = 'completed';
        value = out.value;
      }
    } catch (e) {
      // The trial did nothing wrong: its report or checkpoint could not be stored.
      if (e instanceof StorageError) throw e;
      if (aborted() || fatal !== undefined) {
        state = 'interrupted';
        error = 'interrupted: the run was stopped';
      } else if (e instanceof TrialInterruptedError) {
        // Claimed again by this run (interrupted trials come first), from its checkpoint.
        state = 'interrupted';
        error = e.message;
      } else {
        state = 'failed';
        error = failure ?? errorMessage(e);
      }
    }
    if (lost) return; // another process took the trial over; its record is theirs now
    if (fatal !== undefined) return; // left running: the next run of this host interrupts and resumes it
    await storage.finishTrial(trial.id, trial.attempt, { state, value, error, keepCheckpoint: opts.keepCheckpoints === true });
    scheduler.wake();
    if (state !== 'interrupted') ran++;
    emit({ type: 'trial-end', trial, state, value, epochs: lastEpoch, error });
  };

  // The sampler's history is read from storage before every claim (never remembered), so
  // a resumed run or another process samples from the same past.
  const reader = sampler.needs === 'none' ? undefined : new HistoryReader(storage, study.id, sampler.needs === 'reports');
  try {
    for (;;) {
      while (!aborted() && fatal === undefined && active.size < pool.workers + (scheduler.synchronous ? parked : 0)) {
        const history = reader ? await reader.read() : EMPTY_HISTORY;
        const trial = await storage.claimTrial({
          studyId: study.id,
          maxTrials: opts.trials,
          owner,
          staleAfterMs,
          newTrial: (n, enqueued) => ({
            params: enqueued
              ? completeConfig(study.space, enqueued, sampler.sample(study.space, study.seed, n, history), study.seed, n)
              : sampler.sample(study.space, study.seed, n, history),
            seed: trialSeed(study.seed, n),
            bracket: scheduler.plan(n).bracket,
          }),
        });
        if (!trial) break;
        const done = execute(trial)
          // Only storage can throw here (training errors are outcomes); the trial stays
          // 'running' in storage and is interrupted and re-run by the next claim or resume.
          .catch((e: unknown) => {
            if (e instanceof StorageError) {
              if (fatal === undefined) {
                fatal = e;
                // Stop training now: nothing the running trials do can be recorded.
                pool.destroy().catch(() => {});
              }
              return;
            }
            emit({ type: 'error', trial, message: errorMessage(e) });
          })
          .finally(() => {
            active.delete(trial.id);
            wake();
          });
        active.set(trial.id, { trial, done });
      }
      if (active.size === 0) {
        if (aborted() || fatal !== undefined) break;
        // Nothing left to claim. Other processes may still run the last trials; if one of
        // them dies, its trials go stale and become ours to claim, so keep looking.
        const counts = await storage.stateCounts(study.id);
        if (counts.running === 0) break;
        // A process of this host that died is recognised at once, without waiting for
        // its heartbeat to go stale.
        if ((await interruptDeadLocal()) > 0) continue;
        emit({ type: 'waiting', running: counts.running });
        await sleep(pollMs, signal);
        continue;
      }
      if (aborted() || fatal !== undefined) break; // the running trials end as interrupted; awaited below
      await new Promise<void>((resolve) => (wake = resolve));
    }
    await Promise.all([...active.values()].map((a) => a.done));
  } finally {
    clearInterval(heartbeat);
  }
  if (fatal !== undefined) throw fatal;
  const counts = await storage.stateCounts(study.id);
  return { ran, counts, best: await storage.bestTrial(study.id), aborted: aborted() };
}
