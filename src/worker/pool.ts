/**
 * The only module that knows about threads. A piscina pool of W threads, each training one
 * trial at a time; a thread that dies fails its trial and is replaced by piscina.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { TrialError, TrialInterruptedError, UsageError, errorMessage } from '../errors.js';
import type { CheckpointHandler, ReportHandler, TrialExecutor, TrialJob } from '../study/executor.js';
import type { MainMessage, StartedMessage, ThreadInit, ThreadMessage, TrialOutcome, TrialTask } from './messages.js';
import { PackClocks, TrialClock } from './trial-clock.js';
import type { PackDecisionMessage, PackOutcome, PackReport, PackTask, PackThreadMessage, PackTrialSpec } from './messages.js';

export interface PoolOptions {
  /** Threads (default: availableParallelism()). */
  readonly workers?: number;
  readonly init: ThreadInit;
  /**
   * Trials one thread may hold at once. 1 unless a synchronous scheduler parks trials
   * at a rung: a parked trial awaits its decision without using the CPU.
   */
  readonly tasksPerThread?: number;
  /**
   * Stop a trial whose objective has run this long (ms; time spent waiting for the main
   * thread, e.g. a scheduler's decision or a storage retry, does not count): its thread is
   * terminated and replaced, and run() rejects with "timed out after N s". Default: none.
   */
  readonly trialTimeoutMs?: number | undefined;
  /** V8 heap limit of each thread in MB (worker resourceLimits); over it a trial fails "out of memory". */
  readonly workerMemoryMb?: number | undefined;
}

function fmtSeconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? String(s) : s.toFixed(1);
}

/** The main thread's side of a pack task (see {@link TrialPool.runPack}). */
export interface PackHandlers {
  /**
   * A member's report, with its checkpoint unless that was its last epoch (store it if the
   * trial goes on); resolves to true when that trial leaves the pack.
   */
  onReport(report: PackReport): Promise<boolean>;
  /**
   * A trial that is not, or no longer, a member: it could not join (bad parameters or
   * checkpoint), or its time ran out (it leaves the pack; the epoch it overran is not reported).
   */
  onFailed(trialNumber: number, error: string): Promise<void>;
  /** At an epoch boundary, after the decisions: up to `room` trials to add (may be none). */
  join(room: number): Promise<PackTrialSpec[]>;
}

/** What a task's timeout needs of its clock(s): TrialClock, or PackClocks for a pack. */
interface TaskClock {
  start(): void;
  pause(): void;
  resume(): void;
}

/**
 * The main thread's end of one task: its port, the thread's messages handled strictly one
 * after another (even if a handler is slow), the first error a handler threw, and what a
 * timeout needs (the task's thread, and whether its time ran out).
 */
class TaskChannel<In extends { type: string }, Out> {
  readonly port: MessagePort;
  /** The thread's end, transferred with the task. */
  readonly remote: MessagePort;
  /** The first error a handler threw (storage: not the trial's). */
  handlerError: unknown;
  threadId: number | undefined;
  /** The task's time ran out and its thread was stopped. */
  timedOut = false;
  private chain = Promise.resolve();

  constructor(private readonly stopThread: (threadId: number | undefined) => void) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.remote = port2;
  }

  /** Handle the task's messages with `handle`, in order; `clock` counts only while none is being handled. */
  listen(clock: TaskClock | undefined, handle: (m: Exclude<In, StartedMessage>) => Promise<void>): void {
    this.port.on('message', (m: In | StartedMessage) => {
      if (m.type === 'started') {
        this.threadId = (m as StartedMessage).threadId;
        clock?.start();
        return;
      }
      // Time spent here (storage, the scheduler's decisions) is the main thread's, not the trial's.
      clock?.pause();
      this.chain = this.chain.then(async () => {
        try {
          await handle(m as Exclude<In, StartedMessage>);
        } finally {
          clock?.resume();
        }
      });
    });
  }

  /** `fn`'s answer; if it throws, the error is kept (see handlerError) and `fallback` answered. */
  async guard<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.handlerError ??= e;
      return fallback;
    }
  }

  reply(m: Out): void {
    try {
      this.port.postMessage(m);
    } catch {
      // the thread is gone; its task rejects on its own
    }
  }

  /** The task ran out of time: stop its thread. */
  expire(): void {
    this.timedOut = true;
    this.stopThread(this.threadId);
  }

  /** Resolves once every message received so far is handled. */
  settled(): Promise<void> {
    return this.chain;
  }

  close(): void {
    this.port.close();
  }
}

export function defaultWorkers(): number {
  return availableParallelism();
}

export class TrialPool implements TrialExecutor {
  readonly workers: number;
  private readonly piscina: Piscina;
  private readonly trialTimeoutMs: number | undefined;
  private readonly workerMemoryMb: number | undefined;
  /** Threads terminated for a timeout: other trials they held (parked) did nothing wrong. */
  private readonly stoppedThreads = new Set<number>();
  private destroyed = false;

  constructor(opts: PoolOptions) {
    const workers = opts.workers ?? defaultWorkers();
    if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer, got ${workers}`);
    this.workers = workers;
    const t = opts.trialTimeoutMs;
    if (t !== undefined && !(t > 0 && Number.isFinite(t))) throw new UsageError(`trial timeout must be a positive number of seconds, got ${t / 1000}`);
    const mb = opts.workerMemoryMb;
    if (mb !== undefined && !(Number.isInteger(mb) && mb >= 64)) throw new UsageError(`worker memory must be an integer number of MB >= 64, got ${mb}`);
    this.trialTimeoutMs = t;
    this.workerMemoryMb = mb;
    this.piscina = new Piscina({
      filename: new URL('./thread.js', import.meta.url).href,
      minThreads: workers,
      maxThreads: workers,
      concurrentTasksPerWorker: opts.tasksPerThread ?? 1,
      idleTimeout: 2 ** 31 - 1,
      maxQueue: 'auto',
      // piscina's default ('sync') parks an idle thread in Atomics.wait, which freezes its
      // event loop: the warm-up a thread starts on its own (thread.ts) would stall at its
      // first await until the first task arrived. Trials last seconds, so the faster
      // hand-off atomics give is worth nothing here.
      atomics: 'disabled',
      workerData: opts.init,
      ...(mb !== undefined ? { resourceLimits: { maxOldGenerationSizeMb: mb } } : {}),
    });
    // A thread that dies (process.exit in an objective, a native abort in its isolate) makes
    // piscina reject that task; the pool itself keeps going and replaces the thread.
    this.piscina.on('error', () => {});
  }

  /**
   * Train one trial. Reports are forwarded to `onReport` in order; its answer goes back to the
   * thread. Rejects with TrialError when the objective throws or its thread dies.
   */
  async run(task: TrialJob, onReport: ReportHandler, onCheckpoint?: CheckpointHandler): Promise<TrialOutcome> {
    if (this.destroyed) throw new TrialError('pool is closed');
    const ch = new TaskChannel<ThreadMessage, MainMessage>((id) => this.stopThread(id));
    const clock = this.trialTimeoutMs === undefined ? undefined : new TrialClock(this.trialTimeoutMs, () => ch.expire());
    ch.listen(clock, async (m) => {
      if (m.type === 'report') {
        ch.reply({ type: 'decision', epoch: m.epoch, stop: await ch.guard(() => onReport(m.epoch, m.value), true) });
      } else {
        const ok = await ch.guard(async () => onCheckpoint === undefined || onCheckpoint(m.epoch, m.data), false);
        ch.reply({ type: 'checkpoint-saved', epoch: m.epoch, ok });
      }
    });
    try {
      const full: TrialTask = { ...task, port: ch.remote };
      return await this.execute<TrialOutcome>(ch, full);
    } finally {
      clock?.stop();
    }
  }

  /**
   * Run a task on a thread and settle it: its outcome once every message is handled, or what
   * it failed with (a handler's failure, storage, is not the trial's: it passes through).
   */
  private async execute<R>(ch: TaskChannel<{ type: string }, unknown>, full: TrialTask | PackTask, name?: 'runPack'): Promise<R> {
    try {
      // No piscina abort signal: an abortable task keeps its thread from taking a second
      // (parked) trial. Stopping everything goes through destroy() instead.
      const out = (await this.piscina.run(full, { ...(name ? { name } : {}), transferList: [ch.remote] })) as R;
      await ch.settled();
      if (ch.handlerError !== undefined) throw ch.handlerError;
      return out;
    } catch (e) {
      await ch.settled();
      if (ch.handlerError !== undefined && !(e instanceof TrialError)) throw ch.handlerError;
      throw this.taskError(e, ch.timedOut, ch.threadId);
    } finally {
      ch.close();
    }
  }

  /** The message of a trial that ran out of time. */
  private get timeoutMessage(): string {
    return `timed out after ${fmtSeconds(this.trialTimeoutMs ?? 0)} s`;
  }

  /**
   * Terminate a thread: the only way to stop code stuck in a loop or a step. piscina rejects
   * its tasks and starts a replacement thread; other tasks it held are then interrupted.
   */
  private stopThread(threadId: number | undefined): void {
    if (threadId === undefined) return;
    this.stoppedThreads.add(threadId);
    void this.piscina.threads.find((x) => x.threadId === threadId)?.terminate();
  }

  /** What a task that failed on its thread (`e`) rejects with. */
  private taskError(e: unknown, timedOut: boolean, threadId: number | undefined): Error {
    if (e instanceof TrialError) return e;
    if (timedOut) return new TrialError(this.timeoutMessage, { cause: e });
    if (threadId !== undefined && this.stoppedThreads.has(threadId)) {
      return new TrialInterruptedError('interrupted: its thread was stopped because another trial on it timed out', { cause: e });
    }
    const code = (e as { code?: unknown }).code;
    const msg = errorMessage(e);
    if (code === 'ERR_WORKER_OUT_OF_MEMORY' || /reaching memory limit|heap out of memory/i.test(msg)) {
      return new TrialError(`out of memory (its thread went over the ${this.workerMemoryMb ?? '?'} MB heap limit)`, { cause: e });
    }
    if (/worker.*(exit|terminat)|exited|Terminating/i.test(msg)) return new TrialError(`worker thread died: ${msg}`, { cause: e });
    return new TrialError(msg, { cause: e });
  }

  /**
   * Train several trials together on one thread (a pack of at most `capacity` members).
   * After each epoch every member's report goes to `onReport`, all of them at once; the
   * thread then drops the members whose answer was stop and adds what `join` returns.
   *
   * With a trial timeout every member has its own clock, which runs while its pack trains
   * (not while the main thread handles the pack's reports). A member whose time runs out
   * leaves at the next epoch boundary through `onFailed` ("timed out after N s"); the
   * others go on. A step cannot be interrupted, so a pack that reaches no boundary while
   * all its members are over time (a hung step) has its thread terminated, and runPack
   * rejects with that timeout.
   *
   * Resolves when no member is left; rejects with TrialError when the thread dies or
   * throws (the members still in the pack are then lost with it), TrialInterruptedError
   * when another task's timeout stopped its thread, or what a handler throws.
   */
  async runPack(task: Omit<PackTask, 'port'>, capacity: number, h: PackHandlers): Promise<PackOutcome> {
    if (this.destroyed) throw new TrialError('pool is closed');
    const ch = new TaskChannel<PackThreadMessage, PackDecisionMessage>((id) => this.stopThread(id));
    const clocks = this.trialTimeoutMs === undefined ? undefined : new PackClocks(this.trialTimeoutMs, () => ch.expire());
    const members = new Set<number>();
    const enter = (n: number): void => {
      members.add(n);
      clocks?.add(n);
    };
    const leaves = (n: number): void => {
      members.delete(n);
      clocks?.remove(n);
    };
    for (const t of task.trials) enter(t.trialNumber);
    ch.listen(clocks, async (m) => {
      const leave: number[] = [];
      let join: PackTrialSpec[] = [];
      try {
        for (const r of m.rejected) leaves(r.trialNumber);
        await Promise.all(m.rejected.map((r) => h.onFailed(r.trialNumber, r.error)));
        const stops = await Promise.all(
          m.reports.map(async (r) => {
            if (!clocks?.over(r.trialNumber)) return h.onReport(r);
            await h.onFailed(r.trialNumber, this.timeoutMessage);
            return true;
          }),
        );
        m.reports.forEach((r, i) => {
          if (stops[i]) leave.push(r.trialNumber);
        });
        for (const n of leave) leaves(n);
        join = await h.join(capacity - members.size);
        for (const t of join) enter(t.trialNumber);
      } catch (e) {
        ch.handlerError ??= e;
        for (const r of m.reports) if (!leave.includes(r.trialNumber)) leave.push(r.trialNumber);
        join = [];
      }
      ch.reply({ type: 'pack-decision', leave, join });
    });
    try {
      const full: PackTask = { ...task, port: ch.remote };
      return await this.execute<PackOutcome>(ch, full, 'runPack');
    } finally {
      clocks?.stop();
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.piscina.destroy();
  }
}
