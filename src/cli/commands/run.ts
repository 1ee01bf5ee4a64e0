import { randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Argv } from 'yargs';
import { ensureFashionMnist } from '../../data/fashion-mnist.js';
import { BackendError, SpaceError, UsageError, errorMessage } from '../../errors.js';
import { createSampler, SAMPLER_NAMES } from '../../samplers/registry.js';
import { createScheduler, SCHEDULER_ALIASES, SCHEDULER_NAMES, schedulerName } from '../../schedulers/registry.js';
import { parseSpace, type SearchSpace } from '../../space/distribution.js';
import { openStorage } from '../../storage/open.js';
import type { StudySpec, TrialRecord, TrialState } from '../../storage/storage.js';
import { checkCompatible, ensureStudy } from '../../study/ensure-study.js';
import { runStudy } from '../../study/runner.js';
import { keepNativeResident, prepareBackend, type BackendName } from '../../training/backend.js';
import { allocateSharedFashion, type ThreadDataset } from '../../training/shared-dataset.js';
import { getModel, modelNames } from '../../training/models/index.js';
import { defaultWorkers, TrialPool } from '../../worker/pool.js';
import { positiveInt } from '../common.js';
import { fmtParams, fmtValue } from '../format.js';
import { Progress } from '../progress.js';

export interface RunArgs {
  storage: string;
  study: string;
  objective: string;
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
}

export const BUILTIN_OBJECTIVE = 'fashion-mnist';
const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;

export function runBuilder(y: Argv): Argv<RunArgs> {
  return y
    .option('study', { type: 'string', default: 'default', describe: 'Study name (created if new, resumed if it exists)' })
    .option('objective', { type: 'string', default: BUILTIN_OBJECTIVE, describe: 'fashion-mnist, or the path of a module exporting async (config, ctx) => number' })
    .option('model', { type: 'string', choices: modelNames(), describe: 'Built-in model for fashion-mnist [default: softmax]' })
    .option('space', { type: 'string', describe: "Search space JSON file [default: the model's built-in space]" })
    .option('trials', { type: 'number', default: 20, describe: 'Finished trials (completed, pruned or failed) the study ends with' })
    .option('epochs', { type: 'number', describe: "Epochs per trial with the fifo scheduler [default: the model's]" })
    .option('train-subset', { type: 'number', describe: 'Train on the first K of the 60k training images' })
    .option('workers', { type: 'number', describe: `Worker threads [default: CPUs = ${defaultWorkers()}]` })
    .option('seed', { type: 'number', describe: 'Study seed: same seed, same configs [default: random, stored]' })
    .option('scheduler', { type: 'string', choices: [...SCHEDULER_NAMES, ...Object.keys(SCHEDULER_ALIASES)], describe: 'fifo: every trial to the end; sh: synchronous successive halving; asha; hyperband [default: fifo]' })
    .option('sampler', { type: 'string', choices: SAMPLER_NAMES, describe: 'Config sampler [default: random]' })
    .option('min-epochs', { type: 'number', describe: 'r_min: first rung (sh, asha, hyperband) [default: 2]' })
    .option('max-epochs', { type: 'number', describe: 'r_max: epochs of a trial that is never stopped [default: 10]' })
    .option('eta', { type: 'number', describe: 'Reduction factor: top 1/eta go on at each rung [default: 2]' })
    .option('backend', { type: 'string', choices: BACKENDS, default: 'auto', describe: 'tfjs backend' })
    .option('intra-op-threads', { type: 'number', default: 1, describe: "libtensorflow intra-op threads per worker" })
    .option('inter-op-threads', { type: 'number', default: 1, describe: "libtensorflow inter-op threads per worker" })
    .option('data-dir', { type: 'string', describe: 'Directory holding the Fashion-MNIST IDX files' })
    .option('stale-after', { type: 'number', default: 60, describe: "Seconds without heartbeat before another process's running trial counts as dead" })
    .option('heartbeat', { type: 'number', default: 5, describe: 'Seconds between heartbeats of running trials' }) as unknown as Argv<RunArgs>;
}

function readSpaceFile(path: string): SearchSpace {
  if (!existsSync(path)) throw new UsageError(`--space ${path}: no such file`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SpaceError(undefined, `${path} is not valid JSON: ${errorMessage(e)}`);
  }
  return parseSpace(raw);
}

/** Build the study spec from flags; flags not given take the stored study's values on resume. */
async function buildSpec(a: RunArgs, stored: StudySpec | undefined): Promise<StudySpec> {
  const builtin = a.objective === BUILTIN_OBJECTIVE;
  let objective = BUILTIN_OBJECTIVE;
  if (!builtin) {
    objective = resolve(a.objective);
    if (!existsSync(objective)) throw new UsageError(`--objective ${a.objective}: no such file (or use "fashion-mnist")`);
  }
  if (!builtin && a.model !== undefined) throw new UsageError('--model applies to the fashion-mnist objective only');
  const model = builtin ? (a.model ?? (stored?.objective === BUILTIN_OBJECTIVE ? stored.model : null) ?? 'softmax') : null;
  const info = model !== null ? getModel(model) : undefined;
  let space: SearchSpace;
  if (a.space !== undefined) space = readSpaceFile(a.space);
  else if (stored && stored.objective === objective && stored.model === model) space = stored.space;
  else if (info) space = info.defaultSpace;
  else throw new UsageError('a custom --objective needs a --space file');

  const scheduler = (a.scheduler === undefined ? undefined : schedulerName(a.scheduler)) ?? (stored?.settings['scheduler'] as string | undefined) ?? 'fifo';
  const pick = (flag: number | undefined, key: string, dflt: number | undefined): number | undefined =>
    flag ?? (stored?.settings[key] as number | undefined) ?? dflt;
  positiveInt('epochs', a.epochs);
  positiveInt('train-subset', a['train-subset']);
  positiveInt('min-epochs', a['min-epochs']);
  positiveInt('max-epochs', a['max-epochs']);
  const fifo = scheduler === 'fifo';
  if (fifo && (a['min-epochs'] !== undefined || a.eta !== undefined)) {
    throw new UsageError('--min-epochs and --eta apply to --scheduler sh, asha or hyperband');
  }
  if (!fifo && a.epochs !== undefined && a['max-epochs'] !== undefined && a.epochs !== a['max-epochs']) {
    throw new UsageError('--epochs and --max-epochs disagree; with an early-stopping scheduler give --max-epochs only');
  }
  const modelEpochs = info?.defaults.epochs ?? 10;
  const epochs = fifo ? pick(a.epochs ?? a['max-epochs'], 'epochs', modelEpochs)! : pick(a['max-epochs'] ?? a.epochs, 'epochs', 10)!;
  const settings: Record<string, unknown> = {
    epochs,
    trainSubset: pick(a['train-subset'], 'trainSubset', undefined) ?? null,
    scheduler,
    sampler: a.sampler ?? (stored?.settings['sampler'] as string | undefined) ?? 'random',
  };
  if (!fifo) {
    settings['minEpochs'] = pick(a['min-epochs'], 'minEpochs', Math.min(2, epochs))!;
    settings['eta'] = pick(a.eta, 'eta', 2)!;
  }
  if (a['train-subset'] !== undefined && a['train-subset'] > 60000) throw new UsageError('--train-subset must be at most 60000');
  let seed = a.seed ?? stored?.seed;
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0)) throw new UsageError(`--seed must be a non-negative integer, got ${seed}`);
  seed ??= randomInt(0, 2 ** 31);
  return { name: a.study, objective, model, space, settings, seed };
}

/** Load a user objective once here, so a broken module is one clear error, not N failed trials. */
async function checkObjectiveModule(path: string): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`--objective ${path} cannot be loaded: ${errorMessage(e)}`);
  }
  if (typeof (mod['default'] ?? mod['objective']) !== 'function') {
    throw new UsageError(`--objective ${path} must export an async function (config, ctx) => number, as default or as "objective"`);
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

export async function runCommand(a: RunArgs): Promise<void> {
  positiveInt('trials', a.trials);
  const workers = positiveInt('workers', a.workers) ?? defaultWorkers();
  positiveInt('intra-op-threads', a['intra-op-threads']);
  positiveInt('inter-op-threads', a['inter-op-threads']);
  const threads = { intraOpThreads: a['intra-op-threads'], interOpThreads: a['inter-op-threads'] };
  if (!(a['stale-after'] > 0) || !(a.heartbeat > 0) || a.heartbeat >= a['stale-after']) {
    throw new UsageError('--heartbeat and --stale-after must be positive seconds, heartbeat < stale-after');
  }
  if (!a.study.trim()) throw new UsageError('--study must not be empty');

  const storage = await openStorage(a.storage);
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
  let pool: TrialPool | undefined;
  try {
    const existing = await storage.getStudy(a.study);
    const spec = await buildSpec(a, existing);
    // Refuse a mismatching resume before the slow part (backend, dataset).
    if (existing) checkCompatible(existing, spec);
    // Validate scheduler options before anything is written.
    const scheduler = createScheduler(String(spec.settings['scheduler']), {
      maxEpochs: spec.settings['epochs'] as number,
      minEpochs: (spec.settings['minEpochs'] as number | undefined) ?? 1,
      eta: (spec.settings['eta'] as number | undefined) ?? 2,
      maxTrials: a.trials,
    });
    const sampler = createSampler(String(spec.settings['sampler']));

    if (existing) {
      // Nothing left to do: say so without loading the backend and the dataset.
      const counts = await storage.stateCounts(existing.id);
      const finished = counts.completed + counts.pruned + counts.failed;
      if (finished >= a.trials && counts.running === 0 && counts.interrupted === 0) {
        process.stderr.write(`study "${existing.name}" already has ${finished} finished trials (--trials ${a.trials}); raise --trials to continue it\n`);
        printSummary(a.storage, existing.name, counts, await storage.bestTrial(existing.id));
        return;
      }
    }
    const startPool = (data: ThreadDataset | null, backend: BackendName | 'auto'): TrialPool =>
      new TrialPool({
        workers,
        init: { dataset: data, backend, warmModel: spec.model, ...threads },
        // Synchronous successive halving parks trials at a rung; a parked trial holds a slot
        // of its thread but no CPU, so threads must accept more than one.
        tasksPerThread: scheduler.synchronous ? Math.max(2, a.trials) : 1,
      });
    let dataset: ThreadDataset | null = null;
    let backendName: BackendName | 'auto' = a.backend as BackendName | 'auto';
    if (spec.objective === BUILTIN_OBJECTIVE) {
      // The main thread only coordinates: it loads the addon (to keep it resident), not tfjs.
      const backend = await prepareBackend(backendName, threads);
      if (backend.warning) process.stderr.write(`warning: ${backend.warning}\n`);
      backendName = backend.name;
      const raw = await ensureFashionMnist({ dataDir: a['data-dir'] });
      // The model's float layout, once per process, in shared memory. The threads start
      // warming up on the buffers while a decoding thread fills them.
      const layout = getModel(spec.model ?? 'softmax').layout;
      const pending = allocateSharedFashion(layout ? [layout] : [], backend.name);
      dataset = pending.dataset;
      pool = startPool(dataset, backend.name);
      await pending.fill(raw.dir);
      process.stderr.write(
        `backend ${backend.name}${backend.versions.libtensorflow ? ` (libtensorflow ${backend.versions.libtensorflow})` : ''}, ` +
          `${workers} worker thread(s), Fashion-MNIST from ${raw.dir}${dataset.zeroCopy ? ' (one shared copy)' : ''}\n`,
      );
    } else {
      if (backendName === 'auto' || backendName === 'tensorflow') {
        // A user objective may import tfjs-node in its threads; with the addon resident in
        // this thread (loaded first, so our thread-pool sizes apply), replaced threads can
        // load it again without aborting the process.
        const ok = keepNativeResident(threads);
        if (!ok && backendName === 'tensorflow') throw new BackendError('--backend tensorflow: tfjs-node cannot be loaded (see hpo info)');
      }
      await checkObjectiveModule(spec.objective);
    }
    const { study, created } = await ensureStudy(storage, spec);
    process.stderr.write(
      `${created ? 'created' : 'continuing'} study "${study.name}" in ${storage.location}: ` +
        `${study.model ?? study.objective}, ${a.trials} trials, ${String(study.settings['scheduler'])} scheduler, ` +
        `${String(study.settings['epochs'])} epochs max, seed ${study.seed}\n`,
    );
    pool ??= startPool(dataset, backendName);
    const counts = await storage.stateCounts(study.id);
    const best0 = await storage.bestTrial(study.id);
    const progress = new Progress(
      a.trials,
      workers,
      process.stderr,
      counts.completed + counts.pruned + counts.failed,
      best0 && best0.value !== null ? { value: best0.value, number: best0.number } : undefined,
    );
    const summary = await runStudy({
      storage,
      study,
      trials: a.trials,
      pool,
      scheduler,
      sampler,
      heartbeatMs: a.heartbeat * 1000,
      staleAfterMs: a['stale-after'] * 1000,
      signal: controller.signal,
      onEvent: progress.onEvent,
    });
    progress.finish();
    printSummary(a.storage, study.name, summary.counts, summary.best);
    if (summary.aborted) process.exitCode = 130;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pool?.destroy().catch(() => {});
    await storage.close();
  }
}
