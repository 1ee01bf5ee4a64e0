import type { MessagePort } from 'node:worker_threads';
import type { ThreadDataset } from '../training/shared-dataset.js';
import type { Params } from '../space/distribution.js';
import type { TrialCheckpoint } from '../training/objective.js';

/** Backend a thread should train on. */
export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** Given to every thread once, at start (piscina workerData). */
export interface ThreadInit {
  /** Shared labels and float pixels; null when the objective does not need Fashion-MNIST. */
  readonly dataset: ThreadDataset | null;
  readonly backend: BackendRequest;
  /**
   * Built-in model the study trains, if known: threads warm up by training it for one
   * step on a few images, so a trial's first step does not pay for first-use costs
   * (libtensorflow kernel creation, JIT). Optional; null or absent skips that part.
   */
  readonly warmModel?: string | null;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
}

/** One trial to train. `port` carries reports out and decisions back. */
export interface TrialTask {
  readonly trialNumber: number;
  readonly seed: number;
  readonly maxEpochs: number;
  readonly params: Params;
  /** 'fashion-mnist' or the absolute path of a user module. */
  readonly objective: string;
  readonly model: string | null;
  readonly settings: Readonly<Record<string, unknown>>;
  /** The trial's last checkpoint when it resumes an interrupted attempt, else null. */
  readonly resume: TrialCheckpoint | null;
  readonly port: MessagePort;
}

/** Thread -> main, first thing in every task: which thread runs it (to stop it on timeout). */
export interface StartedMessage {
  readonly type: 'started';
  readonly threadId: number;
}

/** Thread -> main: the trial's state after `epoch`, to store (answered by CheckpointSavedMessage). */
export interface CheckpointMessage {
  readonly type: 'checkpoint';
  readonly epoch: number;
  readonly data: Uint8Array;
}

/** Main -> thread: the checkpoint is stored (ok) or the trial no longer belongs to this run. */
export interface CheckpointSavedMessage {
  readonly type: 'checkpoint-saved';
  readonly epoch: number;
  readonly ok: boolean;
}

/** Everything a thread sends on a task's port. */
export type ThreadMessage = StartedMessage | ReportMessage | CheckpointMessage;
/** Everything the main thread answers on a task's port. */
export type MainMessage = DecisionMessage | CheckpointSavedMessage;

/** Thread -> main: the value after an epoch. */
export interface ReportMessage {
  readonly type: 'report';
  readonly epoch: number;
  readonly value: number;
}

/** Main -> thread: the scheduler's answer to the last report. */
export interface DecisionMessage {
  readonly type: 'decision';
  readonly epoch: number;
  readonly stop: boolean;
}

/** What a finished task resolves to. */
export interface TrialOutcome {
  readonly value: number;
  /** Backend the trial trained on (null for user objectives). */
  readonly backend: string | null;
}

/** One trial of a pack (see PackTask). */
export interface PackTrialSpec {
  readonly trialNumber: number;
  readonly seed: number;
  readonly maxEpochs: number;
  readonly params: Params;
  /** The trial's last checkpoint when it resumes an interrupted attempt, else null. */
  readonly resume: TrialCheckpoint | null;
}

/**
 * Several trials of one built-in model and batch size trained together on one thread.
 * Every trial keeps its own reports and decisions: after each epoch the thread sends one
 * report per member, and the answer says which members leave and which trials join.
 */
export interface PackTask {
  readonly model: string;
  readonly batchSize: number;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly trials: readonly PackTrialSpec[];
  readonly port: MessagePort;
}

/** One member's result of a pack epoch. */
export interface PackReport {
  readonly trialNumber: number;
  readonly epoch: number;
  readonly value: number;
  /**
   * The member's weights after `epoch` in the single trainer's checkpoint format; absent
   * after its last epoch (its trial ends there). Stored only if the member goes on.
   */
  readonly checkpoint?: Uint8Array;
}

/** Thread -> main after each pack epoch: one report per member, and the trials that could not join. */
export interface PackEpochMessage {
  readonly type: 'pack-epoch';
  readonly reports: readonly PackReport[];
  readonly rejected: readonly { readonly trialNumber: number; readonly error: string }[];
}

/** Everything a pack thread sends on its task's port. */
export type PackThreadMessage = StartedMessage | PackEpochMessage;

/** Main -> thread: the members that leave now, and the trials that join for the next epoch. */
export interface PackDecisionMessage {
  readonly type: 'pack-decision';
  readonly leave: readonly number[];
  readonly join: readonly PackTrialSpec[];
}

/** What a finished pack task resolves to. */
export interface PackOutcome {
  readonly backend: string;
}
