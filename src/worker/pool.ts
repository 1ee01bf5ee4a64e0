/**
 * The only module that knows about threads. A piscina pool of W threads, each training one
 * trial at a time; a thread that dies fails its trial and is replaced by piscina.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { TrialError, UsageError, errorMessage } from '../errors.js';
import type { ReportHandler, TrialExecutor, TrialJob } from '../study/executor.js';
import type { DecisionMessage, ReportMessage, ThreadInit, TrialOutcome, TrialTask } from './messages.js';
import type { PackDecisionMessage, PackEpochMessage, PackOutcome, PackTask, PackTrialSpec } from './messages.js';

export interface PoolOptions {
  /** Threads (default: availableParallelism()). */
  readonly workers?: number;
  readonly init: ThreadInit;
  /**
   * Trials one thread may hold at once. 1 unless a synchronous scheduler parks trials
   * at a rung: a parked trial awaits its decision without using the CPU.
   */
  readonly tasksPerThread?: number;
}

/** The main thread's side of a pack task (see {@link TrialPool.runPack}). */
export interface PackHandlers {
  /** A member's report; resolves to true when that trial leaves the pack. */
  onReport(trialNumber: number, epoch: number, value: number): Promise<boolean>;
  /** A trial the thread could not add to the pack (bad parameters); it is not a member. */
  onRejected(trialNumber: number, error: string): Promise<void>;
  /** At an epoch boundary, after the decisions: up to `room` trials to add (may be none). */
  join(room: number): Promise<PackTrialSpec[]>;
}

export function defaultWorkers(): number {
  return availableParallelism();
}

export class TrialPool implements TrialExecutor {
  readonly workers: number;
  private readonly piscina: Piscina;
  private destroyed = false;

  constructor(opts: PoolOptions) {
    const workers = opts.workers ?? defaultWorkers();
    if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer, got ${workers}`);
    this.workers = workers;
    this.piscina = new Piscina({
      filename: new URL('./thread.js', import.meta.url).href,
      minThreads: workers,
      maxThreads: workers,
      concurrentTasksPerWorker: opts.tasksPerThread ?? 1,
      idleTimeout: 2 ** 31 - 1,
      maxQueue: 'auto',
      workerData: opts.init,
    });
    // A thread that dies (process.exit in an objective, a native abort in its isolate) makes
    // piscina reject that task; the pool itself keeps going and replaces the thread.
    this.piscina.on('error', () => {});
  }

  /**
   * Train one trial. Reports are forwarded to `onReport` in order; its answer goes back to the
   * thread. Rejects with TrialError when the objective throws or its thread dies.
   */
  async run(task: TrialJob, onReport: ReportHandler): Promise<TrialOutcome> {
    if (this.destroyed) throw new TrialError('pool is closed');
    const { port1, port2 } = new MessageChannel();
    let chain = Promise.resolve();
    let handlerError: unknown;
    port1.on('message', (m: ReportMessage) => {
      // Reports are handled strictly one after another, even if a handler is slow.
      chain = chain.then(async () => {
        let stop = true;
        try {
          stop = await onReport(m.epoch, m.value);
        } catch (e) {
          handlerError ??= e;
        }
        const reply: DecisionMessage = { type: 'decision', epoch: m.epoch, stop };
        try {
          port1.postMessage(reply);
        } catch {
          // the thread is gone; its task rejects on its own
        }
      });
    });
    try {
      const full: TrialTask = { ...task, port: port2 };
      // No piscina abort signal: an abortable task keeps its thread from taking a second
      // (parked) trial. Stopping everything goes through destroy() instead.
      const out = (await this.piscina.run(full, { transferList: [port2] })) as TrialOutcome;
      await chain;
      if (handlerError !== undefined) throw handlerError;
      return out;
    } catch (e) {
      await chain;
      if (e instanceof TrialError) throw e;
      const msg = errorMessage(e);
      if (/worker.*(exit|terminat)|exited|Terminating/i.test(msg)) throw new TrialError(`worker thread died: ${msg}`, { cause: e });
      throw new TrialError(msg, { cause: e });
    } finally {
      port1.close();
    }
  }

  /**
   * Train several trials together on one thread (a pack of at most `capacity` members).
   * After each epoch every member's report goes to `onReport`, all of them at once; the
   * thread then drops the members whose answer was stop and adds what `join` returns.
   * Resolves when no member is left; rejects with TrialError when the thread dies or
   * throws (the members still in the pack are then lost with it) or a handler throws.
   */
  async runPack(task: Omit<PackTask, 'port'>, capacity: number, h: PackHandlers): Promise<PackOutcome> {
    if (this.destroyed) throw new TrialError('pool is closed');
    const { port1, port2 } = new MessageChannel();
    let chain = Promise.resolve();
    let handlerError: unknown;
    let members = task.trials.length;
    port1.on('message', (m: PackEpochMessage) => {
      chain = chain.then(async () => {
        const leave: number[] = [];
        let join: PackTrialSpec[] = [];
        try {
          members -= m.rejected.length;
          await Promise.all(m.rejected.map((r) => h.onRejected(r.trialNumber, r.error)));
          const stops = await Promise.all(m.reports.map((r) => h.onReport(r.trialNumber, r.epoch, r.value)));
          m.reports.forEach((r, i) => {
            if (stops[i]) leave.push(r.trialNumber);
          });
          members -= leave.length;
          join = await h.join(capacity - members);
          members += join.length;
        } catch (e) {
          handlerError ??= e;
          for (const r of m.reports) if (!leave.includes(r.trialNumber)) leave.push(r.trialNumber);
          join = [];
        }
        const reply: PackDecisionMessage = { type: 'pack-decision', leave, join };
        try {
          port1.postMessage(reply);
        } catch {
          // the thread is gone; its task rejects on its own
        }
      });
    });
    try {
      const full: PackTask = { ...task, port: port2 };
      const out = (await this.piscina.run(full, { name: 'runPack', transferList: [port2] })) as PackOutcome;
      await chain;
      if (handlerError !== undefined) throw handlerError;
      return out;
    } catch (e) {
      await chain;
      if (e instanceof TrialError) throw e;
      const msg = errorMessage(e);
      if (/worker.*(exit|terminat)|exited|Terminating/i.test(msg)) throw new TrialError(`worker thread died: ${msg}`, { cause: e });
      throw new TrialError(msg, { cause: e });
    } finally {
      port1.close();
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.piscina.destroy();
  }
}
