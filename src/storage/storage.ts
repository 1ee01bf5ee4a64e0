import type { Params, SearchSpace } from '../space/distribution.js';

/** Every state a trial can be in. Terminal: completed, pruned, failed. */
export type TrialState = 'running' | 'completed' | 'pruned' | 'failed' | 'interrupted';
export const TRIAL_STATES: readonly TrialState[] = ['running', 'completed', 'pruned', 'failed', 'interrupted'];
export const TERMINAL_STATES: readonly TrialState[] = ['completed', 'pruned', 'failed'];

/** What defines a study; fixed at creation. */
export interface StudySpec {
  readonly name: string;
  /** 'fashion-mnist' or the absolute path of a user objective module. */
  readonly objective: string;
  /** Built-in model name ('softmax' | 'mlp' | 'lenet') or null for user objectives. */
  readonly model: string | null;
  readonly space: SearchSpace;
  /** Everything else that defines results (epochs, train subset, scheduler, eta, ...). JSON-safe. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly seed: number;
}

export interface StudyRecord extends StudySpec {
  readonly id: number;
  /** ISO-8601 UTC. */
  readonly createdAt: string;
}

export interface StudySummary {
  readonly id: number;
  readonly name: string;
  readonly objective: string;
  readonly model: string | null;
  readonly createdAt: string;
  readonly counts: Readonly<Record<TrialState, number>>;
  /** Best completed value, or null if none completed. */
  readonly best: number | null;
}

export interface TrialRecord {
  readonly id: number;
  readonly studyId: number;
  /** 1-based, unique and dense within a study. */
  readonly number: number;
  readonly state: TrialState;
  readonly params: Params;
  /** Objective value: final validation error when completed, last reported value when pruned, else null. */
  readonly value: number | null;
  /** Per-trial seed derived from (study seed, number). */
  readonly seed: number;
  /** Last epoch reported (0 if none). */
  readonly epochs: number;
  /** 1 for the first run; +1 each time an interrupted trial is claimed again. */
  readonly attempt: number;
  /** Scheduler bracket (Hyperband) or null. */
  readonly bracket: number | null;
  /** Who runs / ran it: "host:pid:token". */
  readonly owner: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly heartbeatAt: string | null;
  readonly error: string | null;
}

export interface EpochReport {
  readonly trialId: number;
  readonly trialNumber: number;
  readonly epoch: number;
  readonly value: number;
}

/** What the caller wants claimed; see Storage.claimTrial. */
export interface ClaimRequest {
  readonly studyId: number;
  /** The study's budget: no new trial number beyond this is created. */
  readonly maxTrials: number;
  readonly owner: string;
  /** Running trials whose heartbeat is older than this (database clock) are interrupted first. */
  readonly staleAfterMs: number;
  /**
   * Pure function of the number: the config, seed and bracket of a NEW trial. When a config
   * is waiting in the study's queue (enqueueTrial), it is taken off the queue in the same
   * transaction and passed as `enqueued`; the params returned are stored (the caller
   * returns the enqueued ones rather than sampling).
   */
  readonly newTrial: (number: number, enqueued?: Params) => { params: Params; seed: number; bracket: number | null };
  /**
   * Makes a retried claim idempotent: a claim whose commit succeeded but whose answer was
   * lost is found again by this token (same owner, still running) instead of claiming a
   * second trial. Unique per claim; optional (RetryingStorage fills it in).
   */
  readonly token?: string;
}

/** A trial's saved state after `epoch` (see Storage.saveCheckpoint). */
export interface Checkpoint {
  readonly epoch: number;
  readonly data: Uint8Array;
}

/** How a running trial ends; see Storage.finishTrial. */
export interface FinishOutcome {
  readonly state: FinalState;
  readonly value: number | null;
  readonly error?: string | null;
  /** Keep the trial's checkpoint when it ends completed, pruned or failed (default false: deleted). */
  readonly keepCheckpoint?: boolean;
}

export type FinalState = 'completed' | 'pruned' | 'failed' | 'interrupted';

/**
 * Which trials a history read returns: every trial numbered above `after`, plus those
 * numbered in `numbers` (trials the caller saw unfinished last time). Finished trials are
 * immutable, so a caller that keeps what it read only asks again for what can change.
 */
export interface HistoryQuery {
  readonly after: number;
  readonly numbers?: readonly number[];
  /** Also return each trial's epoch reports (for multi-fidelity samplers). Default false. */
  readonly reports?: boolean;
}

/** One trial as samplers see it. */
export interface HistoryRow {
  readonly number: number;
  readonly state: TrialState;
  readonly params: Params;
  readonly value: number | null;
  /** [epoch, value] ascending by epoch; empty unless asked for. */
  readonly reports: readonly (readonly [number, number])[];
}

/** One value reported at a rung epoch and the number of the trial that reported it. */
export interface RungResult {
  readonly trialNumber: number;
  readonly value: number;
}

/**
 * Persistent record of studies, trials and per-epoch reports.
 *
 * Contract (tested for every implementation by test/storage/contract.ts):
 * - finished trials (completed, pruned, failed) are immutable;
 * - claimTrial is atomic across threads, processes and machines: a trial is claimed
 *   by exactly one owner, numbers are unique and dense;
 * - writes that depend on ownership (report, finish, heartbeat) are ignored and return
 *   false when the trial is no longer running under that attempt, so a process that was
 *   presumed dead cannot overwrite the work of the one that took over.
 */
/** One config for {@link Storage.enqueueTrials}. */
export interface EnqueueItem {
  readonly params: Params;
  /** Queued at most once per study under this key. */
  readonly key?: string;
}

export interface EnqueueResult {
  /** Configs queued by this call. */
  readonly added: number;
  /** Configs skipped because their key was already recorded. */
  readonly skipped: number;
  /** Configs waiting in the queue after the call. */
  readonly waiting: number;
}

export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it points, with no password. */
  readonly location: string;

  /** Create the study, or return the existing one with that name (created=false). */
  createStudy(spec: StudySpec): Promise<{ study: StudyRecord; created: boolean }>;
  getStudy(name: string): Promise<StudyRecord | undefined>;
  listStudies(): Promise<StudySummary[]>;

  /**
   * Atomically: interrupt stale running trials; then claim the lowest-numbered
   * interrupted trial (attempt+1; its reports after its checkpoint's epoch, or all of them
   * without a checkpoint, deleted; epochs = the checkpoint's epoch or 0), or else create trial
   * max(number)+1 if the study has fewer than maxTrials trials in any state (numbers are
   * dense, so that count is max(number)). newTrial is called only for a new number. Returns
   * null when nothing is left to claim. The claimed trial is 'running', owned by req.owner.
   * A running trial of req.owner itself is never judged stale (a live caller is not dead).
   * With req.token, a trial already claimed under that token is returned as is.
   * @throws StorageError if the study does not exist; RangeError / TypeError for bad input.
   */
  claimTrial(req: ClaimRequest): Promise<TrialRecord | null>;
  /**
   * Queue a fixed config (already validated against the study's space): the next new trial
   * numbers take queued configs first, oldest first, before any is sampled. Returns how many
   * configs are now waiting.
   * @throws StorageError if the study does not exist.
   */
  enqueueTrial(studyId: number, params: Params): Promise<number>;
  /**
   * Queue several configs in one transaction (all or none). A config with a `key` that the
   * study has seen before (from an earlier call, even if that config has run since) is
   * skipped, so a keyed call can be repeated, or retried, without queueing anything twice.
   * @throws StorageError if the study does not exist.
   */
  enqueueTrials(studyId: number, items: readonly EnqueueItem[]): Promise<EnqueueResult>;
  /** Configs waiting in the study's queue, oldest first. */
  enqueuedTrials(studyId: number): Promise<Params[]>;
  /** Store the value reported at `epoch` (1-based) and refresh the heartbeat. */
  recordReport(trialId: number, attempt: number, epoch: number, value: number): Promise<boolean>;
  /**
   * Move a running trial to a final state. A terminal state also deletes its checkpoint
   * unless outcome.keepCheckpoint; 'interrupted' keeps it for the next attempt.
   */
  finishTrial(trialId: number, attempt: number, outcome: FinishOutcome): Promise<boolean>;
  /**
   * Store the state of a running trial after `epoch` (replacing an older one), in the same
   * ownership check as recordReport. Save it after the report of that epoch: a resumed
   * trial continues after the checkpoint's epoch and keeps the reports up to it.
   */
  saveCheckpoint(trialId: number, attempt: number, epoch: number, data: Uint8Array): Promise<boolean>;
  /** The trial's last checkpoint, if any. */
  loadCheckpoint(trialId: number): Promise<Checkpoint | undefined>;
  /** Refresh the heartbeat of these running trials (owned by `owner`). */
  heartbeat(owner: string, trialIds: readonly number[]): Promise<void>;
  /** Mark running trials of these owners interrupted (dead processes on this host). Returns how many. */
  interruptOwners(studyId: number, owners: readonly string[], reason: string): Promise<number>;
  /** Distinct owners of running trials in a study. */
  runningOwners(studyId: number): Promise<string[]>;

  getTrials(studyId: number, opts?: { states?: readonly TrialState[] }): Promise<TrialRecord[]>;
  getReports(studyId: number, opts?: { trialId?: number }): Promise<EpochReport[]>;
  /**
   * Rung results: the values reported at `epoch` by trials of the study, each with the
   * trial's number, ascending by (value, number). With a bracket, only trials of that
   * bracket; null or undefined means every trial (as RungStore). One indexed query.
   */
  rungResults(studyId: number, epoch: number, bracket?: number | null): Promise<RungResult[]>;
  /**
   * The trials a sampler learns from, ascending by number: those numbered above
   * `q.after` and those listed in `q.numbers`, with their epoch reports if asked. Two
   * indexed queries whatever the study's size.
   */
  trialHistory(studyId: number, q: HistoryQuery): Promise<HistoryRow[]>;
  /** Best completed trial (lowest value; ties: lowest number). */
  bestTrial(studyId: number): Promise<TrialRecord | undefined>;
  stateCounts(studyId: number): Promise<Record<TrialState, number>>;

  /** Run one read-only statement through a separate read-only connection. @throws ReadOnlyError */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}
