import type { MessagePort } from 'node:worker_threads';
import type { SharedFashionMnist } from '../data/fashion-mnist.js';
import type { Params } from '../space/distribution.js';
import type { TrialCheckpoint } from '../training/objective.js';

/** Backend a thread should train on. */
export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** Given to every thread once, at start (piscina workerData). */
export interface ThreadInit {
  /** Shared pixels and labels; null when the objective does not need Fashion-MNIST. */
  readonly dataset: SharedFashionMnist | null;
  readonly backend: BackendRequest;
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
