/**
 * The library's study object: open (create or resume) a study in a storage, optimize it on
 * a worker pool or in-process, and read its results. The CLI's `hpo run` is a thin layer
 * over this; everything a run needs (storage, scheduler, sampler, backend, dataset, pool)
 * is wired here.
 */
import { pathToFileURL } from 'node:url';
import { ensureFashionMnist, type DatasetSource } from '../data/fashion-mnist.js';
import { BackendError, UsageError, errorMessage } from '../errors.js';
import { createSampler } from '../samplers/registry.js';
import { DEFAULT_STORAGE, openStorage } from '../storage/open.js';
import { DEFAULT_DB_RETRY_S, RetryingStorage } from '../storage/retry.js';
import type { EnqueueResult, EpochReport, Storage, StudyRecord, TrialRecord, TrialState } from '../storage/storage.js';
import { keepNativeResident, prepareBackend, type BackendName } from '../training/backend.js';
import { getModel } from '../training/models/index.js';
import { allocateSharedFashion } from '../training/shared-dataset.js';
import { objectiveExport, type ObjectiveFn } from '../training/objective.js';
import type { BackendRequest } from '../worker/messages.js';
import { defaultWorkers, TrialPool } from '../worker/pool.js';
import { checkCompatible, ensureStudy } from './ensure-study.js';
import { enqueueConfig, enqueueOnce, parseConfigs } from './enqueue.js';
import { InlineExecutor, type TrialExecutor } from './executor.js';
import { runStudy, type RunSummary, type StudyEvent } from './runner.js';
import { choosePack, runPackedStudy } from './pack-runner.js';
import { BUILTIN_OBJECTIVE, buildSpec, checkPositiveInt, FUNCTION_OBJECTIVE_PREFIX, schedulerFor, type StudyDefinition } from './spec.js';


/** Options of {@link openStudy}: where, which study, and (for a new study) what defines it. */
export interface OpenStudyOptions extends StudyDefinition {
  /**
   * A SQLite file path, `sqlite:path`, `postgres://user@host:port/db`, or an open Storage
   * (which the study then does not close). Default `./hpo.db`.
   */
  readonly storage?: string | Storage | undefined;
  /** Study name: created if new, resumed if it exists. */
  readonly name: string;
  /**
   * How long (seconds) storage calls keep retrying while the database is unreachable or
   * locked (connection refused or reset, a PostgreSQL restart or failover, serialization
   * failures, SQLITE_BUSY past the busy timeout) before the run stops with one error.
   * 0 turns retries off. Applies when `storage` is a URL or path; wrap an open Storage in
   * RetryingStorage yourself. Default 300 (5 minutes).
   */
  readonly dbRetrySeconds?: number | undefined;
  /**
   * Fixed configs to queue at the head of the study (objects of parameter values; parameters
   * left out are sampled), validated against the space before anything is stored: a bad one
   * throws and neither the study nor any config is written. Queued once per study: configs
   * an earlier openStudy({ enqueue }) (or `hpo run --enqueue`) of this study already queued
   * are skipped, so passing the same list on every resume queues them once. The n-th
   * occurrence of the same values in the list is a config of its own. What was queued and
   * skipped is in {@link Study.enqueued}.
   */
  readonly enqueue?: readonly Readonly<Record<string, unknown>>[] | undefined;
  /** Where `enqueue` came from, for error messages (e.g. `--enqueue configs.json`). Default `enqueue`. */
  readonly enqueueFrom?: string | undefined;
}

/** Options of {@link Study.optimize}: how this run works the study. */
export interface OptimizeOptions {
  /** Budget: the study ends when this many trials have finished (completed, pruned or failed). */
  readonly trials: number;
  /** Trials trained at once (worker threads, or interleaved in-process calls). Default: CPU count. */
  readonly workers?: number | undefined;
  /** tfjs backend of the built-in objective: auto (default: tensorflow, then wasm, then cpu), tensorflow, wasm or cpu. */
  readonly backend?: BackendRequest | undefined;
  /** libtensorflow intra-op threads per worker. Default 1. */
  readonly intraOpThreads?: number | undefined;
  /** libtensorflow inter-op threads per worker. Default 1. */
  readonly interOpThreads?: number | undefined;
  /** Directory holding the Fashion-MNIST IDX files (else the usual places, then a download). */
  readonly dataDir?: string | undefined;
  /** Seconds between heartbeats of running trials. Default 5. */
  readonly heartbeatSeconds?: number | undefined;
  /** Seconds without heartbeat after which another process's running trial counts as dead. Default 60. */
  readonly staleAfterSeconds?: number | undefined;
  /**
   * Trial packing: one worker thread trains up to this many trials of a built-in model
   * together, in batched ops (same model and batch size; MLP widths within a 4/3 bucket).
   * 1 trains one trial per thread. Default 'auto': packs where measured faster (see the
   * README). Every trial keeps its own reports, decisions and state.
   */
  readonly pack?: number | 'auto' | undefined;
  /** Aborting stops the study: running trials are marked interrupted and run again on resume. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Seconds a trial's objective may run (time waiting for storage or a scheduler decision
   * does not count). Past it the trial is stopped, its worker thread replaced, and it is
   * stored as failed ("timed out after N s"). A packed trial's clock runs while its pack
   * trains; over its time it leaves the pack at the next epoch boundary (the thread is
   * stopped only if every member is over time before a boundary). Worker pool only (an
   * in-process objective cannot be stopped). Default: no limit.
   */
  readonly trialTimeoutSeconds?: number | undefined;
  /**
   * JS heap limit of each worker thread in MB (worker resourceLimits). A trial over it fails
   * "out of memory" and its thread is replaced. Native tensor memory of tfjs-node is not
   * JS heap and is not limited by this. Worker pool only. Default: V8's own limit.
   */
  readonly workerMemoryMb?: number | undefined;
  /** Keep the checkpoints of trials that ended (default false: deleted when a trial ends). */
  readonly keepCheckpoints?: boolean | undefined;
  /** Progress, as events. */
  readonly onEvent?: ((e: OptimizeEvent) => void) | undefined;
}

/** Everything {@link Study.optimize} tells its caller while it runs. */
export type OptimizeEvent =
  | StudyEvent
  /** The budget is already met: nothing runs. */
  | { type: 'already-finished'; finished: number }
  /** Something the caller should know (e.g. the backend fell back). */
  | { type: 'warning'; message: string }
  /** The backend and dataset are ready (built-in objective) or the pool is (others). */
  | { type: 'setup'; backend: BackendName | null; libtensorflow: string | null; workers: number; dataDir: string | null; dataSource: DatasetSource | null }
  /** Trials are about to be dispatched. */
  | { type: 'start'; trials: number; workers: number; finished: number; best: TrialRecord | undefined; pack: number };

/** What {@link Study.optimize} resolves to. */
export interface OptimizeResult extends RunSummary {
  /** True when the budget was already met and nothing ran. */
  readonly alreadyFinished: boolean;
}

/**
 * Open a study: create it, or resume the stored one. Options left out take the stored
 * values, so `openStudy({ storage, name })` reopens any study as it was created; options given
 * must agree with them.
 * @throws UsageError / SpaceError for bad options; StudyMismatchError when the stored study
 *   was created differently; StorageError when the storage cannot be opened.
 */
export async function openStudy(opts: OpenStudyOptions): Promise<Study> {
  if (opts === null || typeof opts !== 'object') throw new UsageError('openStudy needs an options object');
  const owned = typeof opts.storage !== 'object';
  const retryS = opts.dbRetrySeconds ?? DEFAULT_DB_RETRY_S;
  if (typeof retryS !== 'number' || !(retryS >= 0) || !Number.isFinite(retryS)) {
    throw new UsageError(`dbRetrySeconds must be a number of seconds >= 0, got ${String(opts.dbRetrySeconds)}`);
  }
  const storage =
    typeof opts.storage === 'object'
      ? opts.storage
      : await openStorage(opts.storage ?? DEFAULT_STORAGE, retryS > 0 ? { retry: { budgetMs: retryS * 1000 } } : {});
  try {
    const existing = await storage.getStudy(opts.name);
    const spec = buildSpec(opts.name, opts, existing);
    // Refuse a mismatching resume, bad enqueued configs, or a module that cannot load, before
    // anything is written.
    if (existing) checkCompatible(existing, spec);
    const toQueue = opts.enqueue === undefined ? undefined : parseConfigs(spec, opts.enqueue, opts.enqueueFrom);
    const fn = typeof opts.objective === 'function' ? opts.objective : undefined;
    if (!fn && spec.objective !== BUILTIN_OBJECTIVE) await loadObjectiveModule(spec.objective);
    const { study, created } = await ensureStudy(storage, spec);
    const enqueued = toQueue === undefined ? undefined : await enqueueOnce(storage, study, toQueue);
    return new Study(storage, owned, study, created, fn, enqueued);
  } catch (e) {
    if (owned) await storage.close().catch(() => {});
    throw e;
  }
}

/** Load a user objective once here, so a broken module is one clear error, not N failed trials. */
async function loadObjectiveModule(path: string): Promise<ObjectiveFn> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`objective ${path} cannot be loaded: ${errorMessage(e)}`);
  }
  try {
    return objectiveExport(mod, path);
  } catch (e) {
    throw new UsageError(errorMessage(e));
  }
}

function seconds(name: string, v: number | undefined, dflt: number): number {
  const s = v ?? dflt;
  if (typeof s !== 'number' || !(s > 0) || !Number.isFinite(s)) throw new UsageError(`${name} must be a positive number of seconds, got ${String(v)}`);
  return s;
}

/** One study in one storage. Get it from {@link openStudy}; close it when done. */
export class Study {
  private closed = false;

  /** @internal use {@link openStudy} */
  constructor(
    /** Where the study lives. */
    readonly storage: Storage,
    private readonly ownsStorage: boolean,
    /** The stored study: name, objective, model, space, settings, seed. */
    readonly record: StudyRecord,
    /** True when {@link openStudy} created it (false: resumed). */
    readonly created: boolean,
    private readonly objectiveFn: ObjectiveFn | undefined,
    /** What openStudy's `enqueue` option queued (added) and skipped as queued before; undefined without it. */
    readonly enqueued?: EnqueueResult | undefined,
  ) {}

  get name(): string {
    return this.record.name;
  }

  /**
   * Run trials until `trials` have finished, or `signal` aborts. Resumes where any earlier run
   * (of this or another process) left off: interrupted trials run again, nothing finished
   * runs twice. Several processes may optimize the same study at once.
   * @throws UsageError for bad options; BackendError when the requested backend cannot load;
   *   DatasetError when Fashion-MNIST cannot be found or is corrupt; StorageError.
   */
  async optimize(opts: OptimizeOptions): Promise<OptimizeResult> {
    if (this.closed) throw new UsageError(`study "${this.name}" is closed`);
    const trials = checkPositiveInt('trials', opts.trials);
    if (trials === undefined) throw new UsageError('trials (the budget of finished trials) is required');
    const workers = checkPositiveInt('workers', opts.workers) ?? defaultWorkers();
    const threads = {
      intraOpThreads: checkPositiveInt('intraOpThreads', opts.intraOpThreads) ?? 1,
      interOpThreads: checkPositiveInt('interOpThreads', opts.interOpThreads) ?? 1,
    };
    const heartbeat = seconds('heartbeatSeconds', opts.heartbeatSeconds, 5);
    const staleAfter = seconds('staleAfterSeconds', opts.staleAfterSeconds, 60);
    if (heartbeat >= staleAfter) throw new UsageError('heartbeatSeconds must be less than staleAfterSeconds');
    const trialTimeout = opts.trialTimeoutSeconds === undefined ? undefined : seconds('trialTimeoutSeconds', opts.trialTimeoutSeconds, 0);
    const workerMemoryMb = checkPositiveInt('workerMemoryMb', opts.workerMemoryMb);
    if (workerMemoryMb !== undefined && workerMemoryMb < 64) throw new UsageError(`workerMemoryMb must be at least 64, got ${workerMemoryMb}`);
    const backendRequest = opts.backend ?? 'auto';
    if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(backendRequest)) {
      throw new UsageError(`backend must be auto, tensorflow, wasm or cpu, got ${String(backendRequest)}`);
    }
    const emit = opts.onEvent ?? ((): void => {});
    const { storage, record: study } = this;
    // While this run lasts, an unreachable database shows in its events, and aborting stops the waiting.
    const unwatch =
      storage instanceof RetryingStorage
        ? storage.watch(
            (e) => emit(e.type === 'retrying' ? { type: 'db-retrying', elapsedMs: e.elapsedMs, message: e.message } : { type: 'db-recovered', elapsedMs: e.elapsedMs }),
            opts.signal,
          )
        : () => {};
    try {
      return await this.optimizeWith(opts, trials, workers, threads, heartbeat, staleAfter, backendRequest, emit, { trialTimeout, workerMemoryMb });
    } finally {
      unwatch();
    }
  }

  private async optimizeWith(
    opts: OptimizeOptions,
    trials: number,
    workers: number,
    threads: { intraOpThreads: number; interOpThreads: number },
    heartbeat: number,
    staleAfter: number,
    backendRequest: BackendRequest,
    emit: (e: OptimizeEvent) => void,
    limits: { trialTimeout: number | undefined; workerMemoryMb: number | undefined },
  ): Promise<OptimizeResult> {
    const { storage, record: study } = this;
    const pack = choosePack(opts.pack, study);
    const scheduler = schedulerFor(study, trials);
    // With an early-stopping scheduler, model-based samplers learn from rung results.
    const sampler = createSampler(String(study.settings['sampler']), { fidelity: study.settings['scheduler'] !== 'fifo' });

    const counts = await storage.stateCounts(study.id);
    const finished = counts.completed + counts.pruned + counts.failed;
    if (finished >= trials && counts.running === 0 && counts.interrupted === 0) {
      // Nothing left to do: say so without loading the backend and the dataset.
      emit({ type: 'already-finished', finished });
      return { ran: 0, counts, best: await storage.bestTrial(study.id), aborted: false, alreadyFinished: true };
    }

    const executor = await this.executor(workers, backendRequest, threads, opts.dataDir, scheduler.synchronous ? Math.max(2, trials) : 1, emit, limits);
    try {
      emit({ type: 'start', trials, workers, finished, best: await storage.bestTrial(study.id), pack });
      const run = {
        storage,
        study,
        trials,
        scheduler,
        sampler,
        heartbeatMs: heartbeat * 1000,
        staleAfterMs: staleAfter * 1000,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onEvent: emit,
        keepCheckpoints: opts.keepCheckpoints === true,
      };
      const summary =
        pack > 1 && executor instanceof TrialPool ? await runPackedStudy({ ...run, pool: executor, pack }) : await runStudy({ ...run, pool: executor });
      return { ...summary, alreadyFinished: false };
    } finally {
      await executor.destroy().catch(() => {});
    }
  }

  /** The pool (or in-process executor) this study's objective trains on. */
  private async executor(
    workers: number,
    backendRequest: BackendRequest,
    threads: { intraOpThreads: number; interOpThreads: number },
    dataDir: string | undefined,
    tasksPerThread: number,
    emit: (e: OptimizeEvent) => void,
    limits: { trialTimeout: number | undefined; workerMemoryMb: number | undefined },
  ): Promise<TrialExecutor> {
    const poolLimits = {
      ...(limits.trialTimeout !== undefined ? { trialTimeoutMs: limits.trialTimeout * 1000 } : {}),
      ...(limits.workerMemoryMb !== undefined ? { workerMemoryMb: limits.workerMemoryMb } : {}),
    };
    const { objective } = this.record;
    if (objective.startsWith(FUNCTION_OBJECTIVE_PREFIX)) {
      if (!this.objectiveFn) throw new UsageError(`study "${this.name}" has an in-process objective (${objective}); open it with that function as the objective`);
      emit({ type: 'setup', backend: null, libtensorflow: null, workers, dataDir: null, dataSource: null });
      return new InlineExecutor(this.objectiveFn, workers);
    }
    let backend: BackendRequest = backendRequest;
    if (objective === BUILTIN_OBJECTIVE) {
      // The main thread only coordinates: it loads the addon (resident for the threads),
      // not tfjs. The model's float layout exists once per process, in shared memory; the
      // pool's threads warm up on it while the files are streamed into it.
      const prepared = await prepareBackend(backendRequest, threads);
      if (prepared.warning) emit({ type: 'warning', message: prepared.warning });
      const found = await ensureFashionMnist({ dataDir });
      const model = this.record.model ?? 'softmax';
      const layout = getModel(model).layout;
      const pending = allocateSharedFashion(layout ? [layout] : [], prepared.name);
      const pool = new TrialPool({ workers, init: { dataset: pending.dataset, backend: prepared.name, warmModel: model, ...threads }, tasksPerThread, ...poolLimits });
      try {
        await pending.fill(found.dir);
      } catch (e) {
        await pool.destroy().catch(() => {});
        throw e;
      }
      emit({ type: 'setup', backend: prepared.name, libtensorflow: prepared.versions.libtensorflow ?? null, workers, dataDir: found.dir, dataSource: found.source });
      return pool;
    }
    if (backendRequest === 'auto' || backendRequest === 'tensorflow') {
      // A user objective may import tfjs-node in its threads; with the addon resident in
      // this thread (loaded first, so our thread-pool sizes apply), replaced threads can
      // load it again without aborting the process.
      const ok = keepNativeResident(threads);
      if (!ok && backendRequest === 'tensorflow') throw new BackendError('backend tensorflow: tfjs-node cannot be loaded (see hpo info)');
    }
    emit({ type: 'setup', backend: null, libtensorflow: null, workers, dataDir: null, dataSource: null });
    // Synchronous successive halving parks trials at a rung; a parked trial holds a slot of
    // its thread but no CPU, so threads must accept more than one.
    return new TrialPool({ workers, init: { dataset: null, backend, ...threads }, tasksPerThread, ...poolLimits });
  }

  /**
   * Queue a fixed config: the next new trial numbers take queued configs, oldest first,
   * before any is sampled (interrupted trials still re-run first). It runs within the
   * budget of the next {@link Study.optimize}. Returns how many configs now wait.
   * @throws SpaceError when the config does not fit the space (missing, inactive, unknown or
   *   out-of-range parameters); UsageError when it is not an object.
   */
  async enqueue(params: Readonly<Record<string, unknown>>): Promise<number> {
    if (this.closed) throw new UsageError(`study "${this.name}" is closed`);
    return (await enqueueConfig(this.storage, this.record, params)).waiting;
  }

  /** The best completed trial (lowest value; ties: lowest number), if any. */
  best(): Promise<TrialRecord | undefined> {
    return this.storage.bestTrial(this.record.id);
  }

  /** The study's trials by number, optionally only those in `states`. */
  trials(opts: { states?: readonly TrialState[] } = {}): Promise<TrialRecord[]> {
    return this.storage.getTrials(this.record.id, opts);
  }

  /** Every epoch report of the study (or of one trial, by its id). */
  reports(opts: { trialId?: number } = {}): Promise<EpochReport[]> {
    return this.storage.getReports(this.record.id, opts);
  }

  /** How many trials are in each state. */
  counts(): Promise<Record<TrialState, number>> {
    return this.storage.stateCounts(this.record.id);
  }

  /** Close the storage if the study opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsStorage) await this.storage.close();
  }
}
