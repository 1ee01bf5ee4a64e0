import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { describeSource } from '../../data/fashion-mnist.js';
import { SpaceError, UsageError, errorMessage } from '../../errors.js';
import { SAMPLER_NAMES } from '../../samplers/registry.js';
import { SCHEDULER_ALIASES, SCHEDULER_NAMES } from '../../schedulers/registry.js';
import type { TrialRecord, TrialState } from '../../storage/storage.js';
import { parseConfigsText } from '../../study/enqueue.js';
import { BUILTIN_OBJECTIVE } from '../../study/spec.js';
import { openStudy, type OptimizeEvent } from '../../study/study.js';
import { DEFAULT_DB_RETRY_S } from '../../storage/retry.js';
import { modelNames } from '../../training/models/index.js';
import type { BackendRequest } from '../../worker/messages.js';
import { defaultWorkers } from '../../worker/pool.js';
import { positiveInt, readConfigFile } from '../common.js';
import { fmtParams, fmtValue } from '../format.js';
import { Progress } from '../progress.js';

export interface RunArgs {
  storage: string;
  study: string;
  objective?: string | undefined;
  model?: string | undefined;
  space?: string | undefined;
  trials: number;
  epochs?: number | undefined;
  'train-subset'?: number | undefined;
  workers?: number | undefined;
  seed?: number | undefined;
  scheduler?: string | undefined;
  sampler?: string | undefined;
  'min-epochs'?: number | undefined;
  'max-epochs'?: number | undefined;
  eta?: number | undefined;
  backend: string;
  'intra-op-threads': number;
  'inter-op-threads': number;
  'data-dir'?: string | undefined;
  'stale-after': number;
  heartbeat: number;
  pack?: string | undefined;
  'db-retry': number;
  'trial-timeout'?: number | undefined;
  'worker-memory'?: number | undefined;
  'keep-checkpoints': boolean;
  report?: string | undefined;
  enqueue?: string | undefined;
}

const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
/** The events after which --report's file is out of date (trials started, reported or ended). */
const REPORT_EVENTS: ReadonlySet<string> = new Set(['start', 'resumed', 'trial-start', 'report', 'trial-end', 'already-finished']);

export function runBuilder(y: Argv): Argv<RunArgs> {
  return y
    .option('study', { type: 'string', default: 'default', describe: 'Study name (created if new, resumed if it exists)' })
    .option('objective', { type: 'string', describe: `${BUILTIN_OBJECTIVE}, or the path of a module exporting async (config, ctx) => number [default: the stored study's, else ${BUILTIN_OBJECTIVE}]` })
    .option('model', { type: 'string', choices: modelNames(), describe: 'Built-in model for fashion-mnist [default: softmax]' })
    .option('space', { type: 'string', describe: "Search space JSON file [default: the model's built-in space]" })
    .option('trials', { type: 'number', default: 20, describe: 'Finished trials (completed, pruned or failed) the study ends with' })
    .option('epochs', { type: 'number', describe: "Epochs per trial with the fifo scheduler [default: the model's]" })
    .option('train-subset', { type: 'number', describe: 'Train on the first K of the 60k training images' })
    .option('workers', { type: 'number', describe: `Worker threads [default: CPUs = ${defaultWorkers()}]` })
    .option('seed', { type: 'number', describe: 'Study seed: same seed, same configs [default: random, stored]' })
    .option('scheduler', { type: 'string', choices: [...SCHEDULER_NAMES, ...Object.keys(SCHEDULER_ALIASES)], describe: 'fifo: every trial to the end; sh: synchronous successive halving; asha; hyperband [default: fifo]' })
    .option('sampler', { type: 'string', choices: SAMPLER_NAMES, describe: 'Config sampler: random, tpe, tpe-multivariate (joint TPE), gp (Gaussian process; spaces without conditions) [default: random]' })
    .option('min-epochs', { type: 'number', describe: 'r_min: first rung (sh, asha, hyperband) [default: 2]' })
    .option('max-epochs', { type: 'number', describe: 'r_max: epochs of a trial that is never stopped [default: 10]' })
    .option('eta', { type: 'number', describe: 'Reduction factor: top 1/eta go on at each rung [default: 2]' })
    .option('backend', { type: 'string', choices: BACKENDS, default: 'auto', describe: 'tfjs backend' })
    .option('intra-op-threads', { type: 'number', default: 1, describe: "libtensorflow intra-op threads per worker" })
    .option('inter-op-threads', { type: 'number', default: 1, describe: "libtensorflow inter-op threads per worker" })
    .option('data-dir', { type: 'string', describe: 'Directory holding the Fashion-MNIST IDX files' })
    .option('stale-after', { type: 'number', default: 60, describe: "Seconds without heartbeat before another process's running trial counts as dead" })
    .option('heartbeat', { type: 'number', default: 5, describe: 'Seconds between heartbeats of running trials' })
    .option('pack', { type: 'string', describe: 'Trials one worker trains together in batched ops (built-in models; 1 = one at a time) [default: auto]' })
    .option('db-retry', { type: 'number', default: DEFAULT_DB_RETRY_S, describe: 'Seconds to keep retrying while the database is unreachable or locked, then stop with an error (0: no retries)' })
    .option('trial-timeout', { type: 'number', describe: 'Seconds a trial may run; past it the trial is stopped and stored as failed [default: no limit]' })
    .option('worker-memory', { type: 'number', describe: "JS heap limit of each worker thread in MB; a trial over it fails \"out of memory\" [default: V8's]" })
    .option('keep-checkpoints', { type: 'boolean', default: false, describe: 'Keep the checkpoints of finished trials [default: deleted when a trial ends]' })
    .option('report', { type: 'string', describe: 'Keep this HTML report (see hpo report) current while the study runs' })
    .option('enqueue', {
      type: 'string',
      describe: 'JSON file of fixed configs to run first (an object, an array of them, or one per line); checked against the space before anything runs; queued once per study, so a re-run (resume) skips those queued before',
    }) as unknown as Argv<RunArgs>;
}

function readSpaceFile(path: string): unknown {
  if (!existsSync(path)) throw new UsageError(`--space ${path}: no such file`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SpaceError(undefined, `${path} is not valid JSON: ${errorMessage(e)}`);
  }
}

function printSummary(storageUrl: string, name: string, c: Record<TrialState, number>, best: TrialRecord | undefined): void {
  process.stdout.write(
    `study "${name}": ${c.completed} completed, ${c.pruned} pruned, ${c.failed} failed` +
      `${c.interrupted ? `, ${c.interrupted} interrupted` : ''}${c.running ? `, ${c.running} running elsewhere` : ''}\n`,
  );
  if (best) {
    process.stdout.write(
      `best: trial ${best.number}, value ${fmtValue(best.value)}  ${fmtParams(best.params)}\n` +
        `find it with: hpo sql --storage ${storageUrl} "SELECT t.number, t.value, t.params FROM trials t JOIN studies s ON s.id = t.study_id ` +
        `WHERE s.name = '${name.replace(/'/g, "''")}' AND t.state = 'completed' ORDER BY t.value LIMIT 1"\n`,
    );
  } else {
    process.stdout.write('no completed trial yet\n');
  }
}

/** --pack: a positive integer or auto. */
function parsePack(v: string | undefined): number | 'auto' {
  if (v === undefined || v === 'auto') return 'auto';
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--pack must be a positive integer or auto, got ${JSON.stringify(v)}`);
  return n;
}

/** `hpo run`: flags -> openStudy + optimize (src/study/study.ts); this file only parses and prints. */
export async function runCommand(a: RunArgs): Promise<void> {
  // Flags are checked here first so that errors name them as typed (--trials, not trials).
  positiveInt('trials', a.trials);
  positiveInt('workers', a.workers);
  positiveInt('intra-op-threads', a['intra-op-threads']);
  positiveInt('inter-op-threads', a['inter-op-threads']);
  positiveInt('epochs', a.epochs);
  positiveInt('train-subset', a['train-subset']);
  positiveInt('min-epochs', a['min-epochs']);
  positiveInt('max-epochs', a['max-epochs']);
  if (!(a['stale-after'] > 0) || !(a.heartbeat > 0) || a.heartbeat >= a['stale-after']) {
    throw new UsageError('--heartbeat and --stale-after must be positive seconds, heartbeat < stale-after');
  }
  if (!a.study.trim()) throw new UsageError('--study must not be empty');
  if (!(a['db-retry'] >= 0) || !Number.isFinite(a['db-retry'])) throw new UsageError(`--db-retry must be a number of seconds >= 0, got ${a['db-retry']}`);
  if (a['trial-timeout'] !== undefined && !(a['trial-timeout'] > 0 && Number.isFinite(a['trial-timeout']))) {
    throw new UsageError(`--trial-timeout must be a positive number of seconds, got ${a['trial-timeout']}`);
  }
  positiveInt('worker-memory', a['worker-memory']);
  if (a['worker-memory'] !== undefined && a['worker-memory'] < 64) throw new UsageError(`--worker-memory must be at least 64 (MB), got ${a['worker-memory']}`);
  if (a.epochs !== undefined && a['max-epochs'] !== undefined && a.epochs !== a['max-epochs']) {
    throw new UsageError('--epochs and --max-epochs disagree; with an early-stopping scheduler give --max-epochs only');
  }
  if (a.objective !== undefined && a.objective !== BUILTIN_OBJECTIVE && !existsSync(a.objective)) {
    throw new UsageError(`--objective ${a.objective}: no such file (or use "${BUILTIN_OBJECTIVE}")`);
  }
  if (a.report !== undefined && !a.report.trim()) throw new UsageError('--report must name a file');
  if (a['train-subset'] !== undefined && a['train-subset'] > 60000) throw new UsageError('--train-subset must be at most 60000');
  const pack = parsePack(a.pack);
  if (a.enqueue !== undefined && !a.enqueue.trim()) throw new UsageError('--enqueue must name a file');
  const enqueue = a.enqueue === undefined ? undefined : parseConfigsText(readConfigFile(a.enqueue, '--enqueue'), `--enqueue ${a.enqueue}`);

  const study = await openStudy({
    storage: a.storage,
    name: a.study,
    objective: a.objective,
    model: a.model,
    space: a.space === undefined ? undefined : (readSpaceFile(a.space) as Record<string, unknown>),
    seed: a.seed,
    epochs: a['max-epochs'] ?? a.epochs,
    trainSubset: a['train-subset'],
    scheduler: a.scheduler,
    minEpochs: a['min-epochs'],
    eta: a.eta,
    sampler: a.sampler,
    dbRetrySeconds: a['db-retry'],
    ...(enqueue ? { enqueue: enqueue as Record<string, unknown>[], enqueueFrom: `--enqueue ${a.enqueue}` } : {}),
  });
  if (study.enqueued) {
    const { added, skipped, waiting } = study.enqueued;
    process.stderr.write(
      `--enqueue ${a.enqueue}: ${added} config(s) queued${skipped ? `, ${skipped} skipped (queued by an earlier --enqueue of this study)` : ''}; ${waiting} waiting\n`,
    );
  }
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) process.exit(130);
    process.stderr.write(`\n${sig}: stopping; running trials are marked interrupted and will run again on resume (again to force quit)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let progress: Progress | undefined;
  const s = study.record;
  // Rewritten (atomically) at most every few seconds while trials progress, and at the end.
  // The report code loads only when a report is asked for (about 70 ms at every start otherwise).
  const live = a.report === undefined ? undefined : new (await import('../../report/live-report.js')).LiveReport({ storage: study.storage, study: s.name, path: a.report });
  const onEvent = (e: OptimizeEvent): void => {
    if (REPORT_EVENTS.has(e.type)) live?.changed();
    switch (e.type) {
      case 'already-finished':
        process.stderr.write(`study "${s.name}" already has ${e.finished} finished trials (--trials ${a.trials}); raise --trials to continue it\n`);
        return;
      case 'warning':
        process.stderr.write(`warning: ${e.message}\n`);
        return;
      case 'setup':
        if (e.backend !== null) {
          process.stderr.write(
            `backend ${e.backend}${e.libtensorflow ? ` (libtensorflow ${e.libtensorflow})` : ''}, ${e.workers} worker thread(s)` +
              `${e.dataDir ? `, Fashion-MNIST from ${e.dataDir}${e.dataSource ? ` (${describeSource(e.dataSource)})` : ''}` : ''}\n`,
          );
        }
        return;
      case 'start':
        process.stderr.write(
          `${study.created ? 'created' : 'continuing'} study "${s.name}" in ${study.storage.location}: ` +
            `${s.model ?? s.objective}, ${e.trials} trials, ${String(s.settings['scheduler'])} scheduler, ` +
            `${String(s.settings['epochs'])} epochs max, seed ${s.seed}${e.pack > 1 ? `, packs of up to ${e.pack} trials per worker` : ''}\n`,
        );
        // Packed trials run pack-by-pack: that many at once per worker (for the ETA).
        progress = new Progress(e.trials, e.workers * e.pack, process.stderr, e.finished, e.best && e.best.value !== null ? { value: e.best.value, number: e.best.number } : undefined);
        return;
      case 'db-retrying':
        // Before the progress line exists (setup), a plain line.
        if (!progress) process.stderr.write(`database unreachable, retrying (${Math.round(e.elapsedMs / 1000)} s): ${e.message}\n`);
        else progress.onEvent(e);
        return;
      default:
        progress?.onEvent(e);
    }
  };
  try {
    const summary = await study.optimize({
      trials: a.trials,
      workers: a.workers ?? defaultWorkers(),
      backend: a.backend as BackendRequest,
      intraOpThreads: a['intra-op-threads'],
      interOpThreads: a['inter-op-threads'],
      dataDir: a['data-dir'],
      heartbeatSeconds: a.heartbeat,
      staleAfterSeconds: a['stale-after'],
      pack,
      trialTimeoutSeconds: a['trial-timeout'],
      workerMemoryMb: a['worker-memory'],
      keepCheckpoints: a['keep-checkpoints'],
      signal: controller.signal,
      onEvent,
    });
    progress?.finish();
    printSummary(a.storage, s.name, summary.counts, summary.best);
    if (summary.aborted) process.exitCode = 130;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (live) {
      await live.close();
      if (live.writes > 0) process.stderr.write(`report: ${resolve(a.report!)}\n`);
    }
    await study.close();
  }
}
