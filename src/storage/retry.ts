import { randomInt, randomUUID } from 'node:crypto';
import { StorageError, errorMessage } from '../errors.js';
import type { Params } from '../space/distribution.js';
import type {
  EnqueueItem,
  EnqueueResult,
  HistoryQuery,
  HistoryRow,
  Checkpoint,
  ClaimRequest,
  EpochReport,
  FinishOutcome,
  RungResult,
  Storage,
  StudyRecord,
  StudySpec,
  StudySummary,
  TrialRecord,
  TrialState,
} from './storage.js';
import { isTransient } from './transient.js';
import { sleep } from '../sleep.js';

/** Default --db-retry: 5 minutes (see README, "Faults"). */
export const DEFAULT_DB_RETRY_S = 300;

/** What a retrying storage tells its listener. */
export type RetryEvent =
  /** A call failed transiently; the storage has been unreachable for `elapsedMs` and will try again. */
  | { readonly type: 'retrying'; readonly what: string; readonly elapsedMs: number; readonly message: string }
  /** A call succeeded after an outage of `elapsedMs`. */
  | { readonly type: 'recovered'; readonly elapsedMs: number };

export interface RetryOptions {
  /** How long an outage may last before a call gives up, in ms (from the first failure of the outage). */
  readonly budgetMs: number;
  /** First backoff ceiling in ms; doubles per failure (default 200). */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling in ms (default 5000). */
  readonly maxDelayMs?: number;
  readonly onEvent?: (e: RetryEvent) => void;
  /** Aborting stops waiting: the call fails at once with its last error. */
  readonly signal?: AbortSignal;
}

/**
 * Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)], so that many
 * clients cut off by the same restart do not reconnect in lockstep.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return ceiling < 1 ? 0 : randomInt(0, Math.floor(ceiling) + 1);
}

/**
 * A Storage that retries calls failing with a transient error (see isTransient) with
 * capped full-jitter backoff, for as long as the outage is shorter than budgetMs. Every
 * write of the Storage contract is safe to repeat: reports and checkpoints are upserts,
 * finishes and heartbeats are conditional updates, and claims carry a token (filled in
 * here) so that a claim whose commit went through but whose answer was lost returns the
 * same trial on retry instead of claiming a second one.
 *
 * heartbeat is not retried: it runs periodically anyway, and a backlog of retrying
 * heartbeats would only add load to a recovering server.
 */
export class RetryingStorage implements Storage {
  readonly kind: Storage['kind'];
  readonly location: string;
  /** When the current outage began (Date.now()), or undefined while calls succeed. */
  private outageSince: number | undefined;
  private failures = 0;
  private onEvent: ((e: RetryEvent) => void) | undefined;
  private signal: AbortSignal | undefined;

  constructor(
    private readonly inner: Storage,
    private readonly opts: RetryOptions,
  ) {
    this.onEvent = opts.onEvent;
    this.signal = opts.signal;
    if (!(opts.budgetMs >= 0) || !Number.isFinite(opts.budgetMs)) throw new RangeError(`retry budget must be a finite number of ms >= 0, got ${opts.budgetMs}`);
    this.kind = inner.kind;
    this.location = inner.location;
  }

  /**
   * Send retry events to `onEvent` and stop waiting when `signal` aborts, until the
   * returned function restores the previous listener and signal (a study run does this).
   */
  watch(onEvent: ((e: RetryEvent) => void) | undefined, signal?: AbortSignal): () => void {
    const prev = { onEvent: this.onEvent, signal: this.signal };
    this.onEvent = onEvent;
    this.signal = signal;
    return () => {
      this.onEvent = prev.onEvent;
      this.signal = prev.signal;
    };
  }

  /** The storage underneath (no retries). */
  get unwrapped(): Storage {
    return this.inner;
  }

  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const r = await fn();
        if (this.outageSince !== undefined) {
          const elapsedMs = Date.now() - this.outageSince;
          this.outageSince = undefined;
          this.failures = 0;
          this.onEvent?.({ type: 'recovered', elapsedMs });
        }
        return r;
      } catch (e) {
        if (!isTransient(e)) throw e;
        const now = Date.now();
        this.outageSince ??= now;
        const elapsedMs = now - this.outageSince;
        const left = this.opts.budgetMs - elapsedMs;
        if (left <= 0 || this.signal?.aborted) {
          const secs = Math.round(this.opts.budgetMs / 1000);
          const why = this.signal?.aborted
            ? `stopped while retrying for ${Math.round(elapsedMs / 1000)} s`
            : `gave up after retrying for ${secs} s; raise --db-retry to wait longer`;
          throw new StorageError(
            `${errorMessage(e)} (${why})`,
            e instanceof StorageError ? e.sql : undefined,
            e instanceof StorageError ? e.params : undefined,
            { cause: e },
          );
        }
        this.onEvent?.({ type: 'retrying', what, elapsedMs, message: errorMessage(e) });
        const wait = Math.min(left, backoffMs(this.failures++, this.opts.baseDelayMs ?? 200, this.opts.maxDelayMs ?? 5000));
        await sleep(wait, this.signal);
      }
    }
  }

  createStudy(spec: StudySpec): Promise<{ study: StudyRecord; created: boolean }> {
    return this.retry(`createStudy ${spec.name}`, () => this.inner.createStudy(spec));
  }
  getStudy(name: string): Promise<StudyRecord | undefined> {
    return this.retry(`getStudy ${name}`, () => this.inner.getStudy(name));
  }
  listStudies(): Promise<StudySummary[]> {
    return this.retry('listStudies', () => this.inner.listStudies());
  }
  claimTrial(req: ClaimRequest): Promise<TrialRecord | null> {
    const withToken: ClaimRequest = req.token === undefined ? { ...req, token: randomUUID() } : req;
    return this.retry(`claimTrial study ${req.studyId}`, () => this.inner.claimTrial(withToken));
  }
  recordReport(trialId: number, attempt: number, epoch: number, value: number): Promise<boolean> {
    return this.retry(`recordReport trial ${trialId}`, () => this.inner.recordReport(trialId, attempt, epoch, value));
  }
  finishTrial(trialId: number, attempt: number, outcome: FinishOutcome): Promise<boolean> {
    return this.retry(`finishTrial trial ${trialId}`, () => this.inner.finishTrial(trialId, attempt, outcome));
  }
  saveCheckpoint(trialId: number, attempt: number, epoch: number, data: Uint8Array): Promise<boolean> {
    return this.retry(`saveCheckpoint trial ${trialId}`, () => this.inner.saveCheckpoint(trialId, attempt, epoch, data));
  }
  loadCheckpoint(trialId: number): Promise<Checkpoint | undefined> {
    return this.retry(`loadCheckpoint trial ${trialId}`, () => this.inner.loadCheckpoint(trialId));
  }
  heartbeat(owner: string, trialIds: readonly number[]): Promise<void> {
    return this.inner.heartbeat(owner, trialIds);
  }
  interruptOwners(studyId: number, owners: readonly string[], reason: string): Promise<number> {
    return this.retry(`interruptOwners study ${studyId}`, () => this.inner.interruptOwners(studyId, owners, reason));
  }
  runningOwners(studyId: number): Promise<string[]> {
    return this.retry(`runningOwners study ${studyId}`, () => this.inner.runningOwners(studyId));
  }
  getTrials(studyId: number, opts?: { states?: readonly TrialState[] }): Promise<TrialRecord[]> {
    return this.retry(`getTrials study ${studyId}`, () => this.inner.getTrials(studyId, opts));
  }
  trialHistory(studyId: number, q: HistoryQuery): Promise<HistoryRow[]> {
    return this.retry(`trialHistory study ${studyId}`, () => this.inner.trialHistory(studyId, q));
  }
  enqueuedTrials(studyId: number): Promise<Params[]> {
    return this.retry(`enqueuedTrials study ${studyId}`, () => this.inner.enqueuedTrials(studyId));
  }
  /** Not retried: a retry after a commit whose answer was lost would queue the config twice. */
  enqueueTrial(studyId: number, params: Params): Promise<number> {
    return this.inner.enqueueTrial(studyId, params);
  }
  /**
   * Retried only when every config has a key: then a retry after a lost commit answer skips
   * them all (and reports them skipped); without keys it would queue them twice.
   */
  enqueueTrials(studyId: number, items: readonly EnqueueItem[]): Promise<EnqueueResult> {
    if (items.every((it) => it.key !== undefined)) return this.retry(`enqueueTrials study ${studyId}`, () => this.inner.enqueueTrials(studyId, items));
    return this.inner.enqueueTrials(studyId, items);
  }
  getReports(studyId: number, opts?: { trialId?: number }): Promise<EpochReport[]> {
    return this.retry(`getReports study ${studyId}`, () => this.inner.getReports(studyId, opts));
  }
  rungResults(studyId: number, epoch: number, bracket?: number | null): Promise<RungResult[]> {
    return this.retry(`rungResults study ${studyId}`, () => this.inner.rungResults(studyId, epoch, bracket));
  }
  bestTrial(studyId: number): Promise<TrialRecord | undefined> {
    return this.retry(`bestTrial study ${studyId}`, () => this.inner.bestTrial(studyId));
  }
  stateCounts(studyId: number): Promise<Record<TrialState, number>> {
    return this.retry(`stateCounts study ${studyId}`, () => this.inner.stateCounts(studyId));
  }
  query(sql: string): Promise<Record<string, unknown>[]> {
    return this.retry('query', () => this.inner.query(sql));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
