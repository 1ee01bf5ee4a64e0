/**
 * What both study loops share (one trial per task, runner.ts, and packed, pack-runner.ts):
 * the run start-up, claiming (sampler history, enqueued configs), heartbeats, one attempt
 * of a trial from its claim to its stored end (reports, scheduler decisions, checkpoints,
 * resume from the last checkpoint), and the loop that starts tasks while workers are free
 * and waits for the study's last trials. A task trains one trial or one pack; the loops
 * differ only in how they form and start tasks.
 */
import { StorageError, errorMessage } from '../errors.js';
import { sleep } from '../sleep.js';
import { completeConfig } from '../samplers/complete-config.js';
import { EMPTY_HISTORY, HistoryReader } from '../samplers/history.js';
import { trialSeed } from '../samplers/random-sampler.js';
import type { TrialPlan } from '../schedulers/scheduler.js';
import type { TrialRecord, TrialState } from '../storage/storage.js';
import type { TrialCheckpoint } from '../training/objective.js';
import { isDeadLocalOwner, makeOwner } from './owner.js';
import type { RunOptions, RunSummary, StudyEvent } from './runner.js';

/** What the loop needs besides the trials: RunOptions without the executor, plus the workers. */
export type LoopOptions = Omit<RunOptions, 'pool'> & {
  /** Tasks that may train at once (the pool's threads). */
  readonly workers: number;
  /** Stop training at once (the run was aborted, or storage failed for good). */
  readonly destroy: () => Promise<void>;
};

/** A started task (one trial, or one pack): `trial` names it in an 'error' event. */
export interface StartedTask {
  readonly trial: TrialRecord;
  readonly done: Promise<void>;
}

/** How a loop forms its tasks. */
export interface TaskSource {
  /** Claim what one task needs and start it; null when nothing can be claimed now. */
  next(): Promise<StartedTask | null>;
  /** After the last task: give back claimed trials that never started. */
  close?(): Promise<void>;
}

/** A task's count of members waiting for a scheduler decision (see {@link StudyLoop.decide}). */
export interface TaskSlot {
  deciding: number;
}

type Ending = 'completed' | 'pruned' | 'failed' | 'interrupted';

/** Interrupt the running trials of processes of this host that no longer exist; returns how many. */
async function interruptDeadLocal({ storage, study }: Pick<LoopOptions, 'storage' | 'study'>, owner: string): Promise<number> {
  const dead = (await storage.runningOwners(study.id)).filter((o) => isDeadLocalOwner(o, owner));
  return dead.length ? storage.interruptOwners(study.id, dead, 'interrupted: its process died') : 0;
}

/**
 * One attempt of one trial, from its claim to its stored end. Its handlers are what the
 * executor calls: `report` stores a report and asks the scheduler (true: stop), and
 * `checkpoint` stores the state after an epoch (false: the trial is no longer ours).
 */
export class TrialAttempt {
  lastEpoch: number;
  lastValue: number | null = null;
  prunedAt: number | null = null;
  /** Another process took the trial over: its record is theirs now, nothing more is stored. */
  lost = false;
  /** Why the trial failed by its own reports (a non-finite value, an epoch past its budget). */
  failure: string | null = null;
  private ended = false;

  constructor(
    private readonly loop: StudyLoop,
    readonly trial: TrialRecord,
    readonly plan: TrialPlan,
    /** The checkpoint it continues from (an interrupted earlier attempt's), else null. */
    readonly resume: TrialCheckpoint | null,
    private readonly task: TaskSlot,
  ) {
    this.lastEpoch = resume?.epoch ?? 0;
  }

  /** Store a report, then let the scheduler decide; resolves true when the trial must stop. */
  readonly report = async (epoch: number, value: number): Promise<boolean> => {
    const { loop, trial, plan } = this;
    if (loop.stopped || this.lost || this.failure || this.ended) return true;
    if (!Number.isFinite(value)) {
      this.failure = `reported a non-finite value (${value}) at epoch ${epoch}`;
      return true;
    }
    if (epoch > plan.maxEpochs) {
      this.failure = `reported epoch ${epoch} beyond its budget of ${plan.maxEpochs} epochs`;
      return true;
    }
    if (!(await loop.opts.storage.recordReport(trial.id, trial.attempt, epoch, value))) {
      this.lose();
      return true;
    }
    this.lastEpoch = epoch;
    this.lastValue = value;
    loop.emit({ type: 'report', trial, epoch, value });
    if (epoch >= plan.maxEpochs) return true;
    const d = await loop.decide(this.task, { trialNumber: trial.number, bracket: trial.bracket, epoch, value });
    if (d === 'stop') this.prunedAt = epoch;
    return d === 'stop';
  };

  /** Store the state after `epoch`; resolves false when the trial is no longer this run's to train. */
  readonly checkpoint = async (epoch: number, data: Uint8Array): Promise<boolean> => {
    if (this.loop.stopped || this.lost || this.failure || this.ended) return false;
    if (!(await this.loop.opts.storage.saveCheckpoint(this.trial.id, this.trial.attempt, epoch, data))) {
      this.lose();
      return false;
    }
    return true;
  };

  /**
   * The end its reports decided once `report` said stop: failed (its own failure), pruned,
   * or completed at its last epoch with the last value; null when it stopped for another
   * reason (lost, or the run is stopping).
   */
  decided(): { state: Ending; value: number | null; error: string | null } | null {
    if (this.lost) return null;
    if (this.failure) return { state: 'failed', value: null, error: this.failure };
    if (this.prunedAt !== null) return { state: 'pruned', value: this.lastValue, error: null };
    if (this.lastEpoch >= this.plan.maxEpochs) return { state: 'completed', value: this.lastValue, error: null };
    return null;
  }

  /**
   * Store the trial's end (once). Nothing is stored for a lost trial, nor after a fatal
   * storage error: the trial stays running and the next run of this host resumes it.
   */
  async finish(state: Ending, value: number | null, error: string | null): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.loop.end(this, state, value, error);
  }

  get finished(): boolean {
    return this.ended || this.lost;
  }

  private lose(): void {
    this.lost = true;
    this.loop.release(this.trial);
  }
}

/**
 * Run start-up, claims, heartbeats, attempts and the task loop of one run of a study.
 * Create it with {@link StudyLoop.start}, then {@link StudyLoop.run} a TaskSource.
 */
export class StudyLoop {
  readonly emit: (e: StudyEvent) => void;
  /** Trials finished (not interrupted) by this run. */
  ran = 0;
  /** Trials finished before this run (completed, pruned or failed). */
  readonly finishedBefore: number;
  /**
   * A storage failure that retrying did not cure (disk full, read-only, outage past the
   * budget): nothing more can be recorded, so the run stops and reports this one error.
   */
  private fatal: unknown;
  /** Every trial this run holds (claimed and not yet ended): heartbeated. */
  private readonly held = new Map<number, TrialRecord>();
  private readonly tasks = new Set<Promise<void>>();
  /** Tasks whose members all wait for a synchronous scheduler's rung: they use no CPU. */
  private parked = 0;
  /** The last claim found nothing; claims again once a trial ends or the loop polls. */
  private exhausted = false;
  private wakeUp: () => void = () => {};
  private readonly reader: HistoryReader | undefined;
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(
    readonly opts: LoopOptions,
    private readonly owner: string,
    private readonly staleAfterMs: number,
    private readonly pollMs: number,
    heartbeatMs: number,
    finishedBefore: number,
    emit: (e: StudyEvent) => void,
  ) {
    const { storage, study, sampler, signal } = opts;
    this.emit = emit;
    this.finishedBefore = finishedBefore;
    // The sampler's history is read from storage before every claim (never remembered), so
    // a resumed run or another process samples from the same past.
    this.reader = sampler.needs === 'none' ? undefined : new HistoryReader(storage, study.id, sampler.needs === 'reports');
    signal?.addEventListener(
      'abort',
      () => {
        this.wakeUp();
        // Stop training now rather than at the next report; the trials become interrupted.
        opts.destroy().catch(() => {});
      },
      { once: true },
    );
    this.heartbeat = setInterval(() => {
      if (this.held.size === 0) return;
      storage.heartbeat(owner, [...this.held.keys()]).catch(() => {});
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * Defaults, an owner id, and recovery: trials left running by dead processes of this host
   * are interrupted at once (other hosts' trials are judged by their heartbeat inside
   * claimTrial); emits 'resumed' when the study already has trials.
   */
  static async start(opts: LoopOptions): Promise<StudyLoop> {
    const { storage, study } = opts;
    const emit = opts.onEvent ?? ((): void => {});
    const owner = makeOwner();
    const heartbeatMs = opts.heartbeatMs ?? 5000;
    const recovered = await interruptDeadLocal(opts, owner);
    const before = await storage.stateCounts(study.id);
    if (before.completed + before.pruned + before.failed + before.interrupted > 0) {
      emit({ type: 'resumed', completed: before.completed, interrupted: before.interrupted, recovered });
    }
    const finishedBefore = before.completed + before.pruned + before.failed;
    return new StudyLoop(opts, owner, opts.staleAfterMs ?? 60_000, opts.pollMs ?? Math.min(heartbeatMs, 2000), heartbeatMs, finishedBefore, emit);
  }

  get aborted(): boolean {
    return this.opts.signal?.aborted === true;
  }

  /** The run is stopping: aborted, or storage failed for good. */
  get stopped(): boolean {
    return this.aborted || this.fatal !== undefined;
  }

  /** Tasks training now. */
  get running(): number {
    return this.tasks.size;
  }

  /** Trials claimed by this run and not yet ended. */
  get holding(): number {
    return this.held.size;
  }

  /**
   * Claim the next trial: an interrupted one first, else a new number with an enqueued or
   * sampled config. Null when the budget is used up (or the run is stopping).
   */
  async claim(): Promise<TrialRecord | null> {
    if (this.exhausted || this.stopped) return null;
    const { storage, study, sampler, scheduler } = this.opts;
    const history = this.reader ? await this.reader.read() : EMPTY_HISTORY;
    const trial = await storage.claimTrial({
      studyId: study.id,
      maxTrials: this.opts.trials,
      owner: this.owner,
      staleAfterMs: this.staleAfterMs,
      newTrial: (n, enqueued) => ({
        params: enqueued
          ? completeConfig(study.space, enqueued, sampler.sample(study.space, study.seed, n, history), study.seed, n)
          : sampler.sample(study.space, study.seed, n, history),
        seed: trialSeed(study.seed, n),
        bracket: scheduler.plan(n).bracket,
      }),
    });
    if (!trial) {
      this.exhausted = true;
      return null;
    }
    this.held.set(trial.id, trial);
    return trial;
  }

  /** Stop heartbeating a trial (it is no longer this run's). */
  release(trial: TrialRecord): void {
    this.held.delete(trial.id);
  }

  /**
   * Start an attempt of a claimed trial: its plan, and the checkpoint it continues from if
   * an earlier attempt left one after its last kept report; emits 'trial-start'.
   */
  async attempt(trial: TrialRecord, task: TaskSlot): Promise<TrialAttempt> {
    const plan = this.opts.scheduler.plan(trial.number);
    // An interrupted trial continues after its last checkpoint (reports up to it were kept).
    const cp = trial.attempt > 1 && trial.epochs > 0 ? await this.opts.storage.loadCheckpoint(trial.id) : undefined;
    const resume = cp !== undefined && cp.epoch === trial.epochs && cp.epoch < plan.maxEpochs ? cp : null;
    this.emit({ type: 'trial-start', trial, maxEpochs: plan.maxEpochs, ...(resume ? { resumedFrom: resume.epoch } : {}) });
    return new TrialAttempt(this, trial, plan, resume, task);
  }

  /**
   * The scheduler's decision on a report. While every member of a task waits here, the task
   * does not count against the workers, or a synchronous round larger than the pool would
   * never fill.
   */
  async decide(task: TaskSlot, q: { trialNumber: number; bracket: number | null; epoch: number; value: number }): Promise<'continue' | 'stop'> {
    const { scheduler, storage, study, signal } = this.opts;
    scheduler.wake();
    if (task.deciding++ === 0) {
      this.parked++;
      if (scheduler.synchronous) this.wakeUp();
    }
    try {
      return await scheduler.decide({ studyId: study.id, ...q, ...(signal ? { signal } : {}) }, storage);
    } finally {
      if (--task.deciding === 0) this.parked--;
    }
  }

  /** Store an attempt's end (see TrialAttempt.finish). */
  async end(a: TrialAttempt, state: Ending, value: number | null, error: string | null): Promise<void> {
    this.release(a.trial);
    if (a.lost || this.fatal !== undefined) return;
    const { storage, scheduler } = this.opts;
    await storage.finishTrial(a.trial.id, a.trial.attempt, { state, value, error, keepCheckpoint: this.opts.keepCheckpoints === true });
    scheduler.wake();
    if (state !== 'interrupted') this.ran++;
    this.exhausted = false; // a finished trial may free budget or leave interrupted trials to claim
    this.emit({ type: 'trial-end', trial: a.trial, state, value, epochs: a.lastEpoch, error });
  }

  /** A claimed trial that never started (the run stopped first): interrupted, to run again on resume. */
  async giveBack(trial: TrialRecord): Promise<void> {
    this.release(trial);
    if (this.fatal !== undefined) return;
    await this.opts.storage.finishTrial(trial.id, trial.attempt, { state: 'interrupted', value: null, error: 'interrupted: the run was stopped' });
  }

  /** Start tasks from `source` while workers are free, until the budget is met or the run stops. */
  async run(source: TaskSource): Promise<RunSummary> {
    const { storage, study, scheduler, signal } = this.opts;
    try {
      for (;;) {
        while (!this.stopped && this.tasks.size < this.opts.workers + (scheduler.synchronous ? this.parked : 0)) {
          const task = await source.next();
          if (!task) break;
          this.track(task);
        }
        if (this.tasks.size === 0) {
          if (this.stopped) break;
          // Nothing left to claim. Other processes may still run the last trials; if one of
          // them dies, its trials go stale and become ours to claim, so keep looking.
          const counts = await storage.stateCounts(study.id);
          if (counts.running === 0) break;
          this.exhausted = false;
          // A process of this host that died is recognised at once, without waiting for
          // its heartbeat to go stale.
          if ((await interruptDeadLocal(this.opts, this.owner)) > 0) continue;
          this.emit({ type: 'waiting', running: counts.running });
          await sleep(this.pollMs, signal);
          continue;
        }
        if (this.stopped) break; // the running tasks end their trials as interrupted; awaited below
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
      }
      await Promise.all([...this.tasks]);
      await source.close?.();
    } finally {
      clearInterval(this.heartbeat);
    }
    if (this.fatal !== undefined) throw this.fatal;
    const counts = await storage.stateCounts(study.id);
    return { ran: this.ran, counts, best: await storage.bestTrial(study.id), aborted: this.aborted };
  }

  private track(task: StartedTask): void {
    const done: Promise<void> = task.done
      // Only storage can throw here (training errors are outcomes); the trials stay
      // 'running' in storage and are interrupted and re-run by the next claim or resume.
      .catch((e: unknown) => {
        if (e instanceof StorageError) {
          if (this.fatal === undefined) {
            this.fatal = e;
            // Nothing the running trials do can be recorded: stop training and heartbeats.
            clearInterval(this.heartbeat);
            this.opts.destroy().catch(() => {});
          }
          return;
        }
        this.emit({ type: 'error', trial: task.trial, message: errorMessage(e) });
      })
      .finally(() => {
        this.tasks.delete(done);
        this.exhausted = false;
        this.wakeUp();
      });
    this.tasks.add(done);
  }
}
