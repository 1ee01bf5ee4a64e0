/**
 * tfjs-hpo as a library: open a study, optimize it, read its results.
 *
 * ```ts
 * import { openStudy, loguniform } from 'tfjs-hpo';
 * const study = await openStudy({ storage: './hpo.db', name: 'lr', model: 'softmax',
 *   space: { learning_rate: loguniform(0.01, 1) }, epochs: 4, seed: 1 });
 * await study.optimize({ trials: 8, workers: 2 });
 * console.log(await study.best());
 * await study.close();
 * ```
 */
export { openStudy, Study } from './study/study.js';
export type { OpenStudyOptions, OptimizeOptions, OptimizeEvent, OptimizeResult } from './study/study.js';
export { BUILTIN_OBJECTIVE } from './study/spec.js';
export type { StudyDefinition } from './study/spec.js';
export type { StudyEvent, RunSummary } from './study/runner.js';
export { loguniform, uniform, int, categorical } from './space/helpers.js';
export { parseSpace, formatDistribution } from './space/distribution.js';
export type { Distribution, SearchSpace, Params, Choice } from './space/distribution.js';
export type { ObjectiveFn, TrialContext, TrialCheckpoint } from './training/objective.js';
export { openStorage, DEFAULT_STORAGE } from './storage/open.js';
export { RetryingStorage, DEFAULT_DB_RETRY_S } from './storage/retry.js';
export type { RetryOptions, RetryEvent } from './storage/retry.js';
export { writeReport } from './report/write-report.js';
export { LiveReport } from './report/live-report.js';
export type { LiveReportOptions } from './report/live-report.js';
export type { DatasetSource } from './data/fashion-mnist.js';
export type { Storage, StudyRecord, TrialRecord, TrialState, EpochReport, Checkpoint, FinishOutcome, EnqueueItem, EnqueueResult } from './storage/storage.js';
export { SAMPLER_NAMES } from './samplers/registry.js';
export { SCHEDULER_NAMES } from './schedulers/registry.js';
export { modelNames } from './training/models/index.js';
export {
  HpoError,
  UsageError,
  SpaceError,
  DatasetError,
  StorageError,
  StudyMismatchError,
  BackendError,
  ReadOnlyError,
  TrialError,
} from './errors.js';
