/**
 * Where trials train. The runner only needs this much: the worker-thread pool
 * (src/worker/pool.ts) implements it for module objectives and the built-in models, and
 * {@link InlineExecutor} for objective functions that run in the caller's thread.
 */
import { TrialError, errorMessage } from '../errors.js';
import { createTrialContext, type ObjectiveFn } from '../training/objective.js';
import type { TrialOutcome, TrialTask } from '../worker/messages.js';

/** Called for each report; resolves to true when the trial must stop. */
export type ReportHandler = (epoch: number, value: number) => Promise<boolean>;
/** Called for each checkpoint; resolves to false when the trial no longer belongs to this run. */
export type CheckpointHandler = (epoch: number, data: Uint8Array) => Promise<boolean>;

/** A trial as the runner hands it over (the pool adds its message port). */
export type TrialJob = Omit<TrialTask, 'port'>;

export interface TrialExecutor {
  /** Trials it trains at once. */
  readonly workers: number;
  /**
   * Train one trial, passing each report to `onReport` and each checkpoint to `onCheckpoint`
   * in order, and their answers back.
   * @throws TrialError when the objective throws or its thread dies; whatever a handler throws.
   */
  run(job: TrialJob, onReport: ReportHandler, onCheckpoint?: CheckpointHandler): Promise<TrialOutcome>;
  /** Stop everything; running trials reject. Idempotent. */
  destroy(): Promise<void>;
}

/**
 * Runs an objective function in this thread, up to `workers` trials interleaved at their
 * awaits. For cheap objectives (a formula, a simulator) where a thread per trial costs
 * more than the trial; CPU-bound objectives belong in a module run by the pool.
 */
export class InlineExecutor implements TrialExecutor {
  private destroyed = false;

  constructor(
    private readonly fn: ObjectiveFn,
    readonly workers: number,
  ) {}

  async run(job: TrialJob, onReport: ReportHandler, onCheckpoint?: CheckpointHandler): Promise<TrialOutcome> {
    if (this.destroyed) throw new TrialError('executor is closed');
    // A handler's own failure (storage) is not the objective's: it passes through as is.
    let handlerError: unknown;
    const guard =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>, fallback: R) =>
      async (...a: A): Promise<R> => {
        try {
          return await fn(...a);
        } catch (e) {
          handlerError ??= e;
          return fallback;
        }
      };
    const ctx = createTrialContext(
      job,
      guard(async (epoch: number, value: number) => (this.destroyed ? true : onReport(epoch, value)), true),
      onCheckpoint === undefined ? undefined : guard(onCheckpoint, false),
    );
    let value: unknown;
    try {
      value = await this.fn(job.params, ctx);
    } catch (e) {
      if (handlerError !== undefined) throw handlerError;
      throw e instanceof TrialError ? e : new TrialError(errorMessage(e), { cause: e });
    }
    if (handlerError !== undefined) throw handlerError;
    if (typeof value !== 'number') throw new TrialError(`objective returned ${typeof value}, expected a number`);
    if (this.destroyed) throw new TrialError('interrupted');
    return { value, backend: null };
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
  }
}
