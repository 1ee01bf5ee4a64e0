/**
 * Entry point of every pool thread. Loads the backend and the shared dataset views once per
 * thread, then runs one trial per task. Reports go to the main thread over the task's
 * MessagePort; the main thread stores them before it answers, so a report is never lost.
 */
import { pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { workerData } from 'piscina';
import { TrialError } from '../errors.js';
import type { FashionData } from '../training/fashion-objective.js';
import { fashionTensors, runFashionTrial } from '../training/fashion-objective.js';
import { loadBackend, type LoadedBackend } from '../training/backend.js';
import type { Layout } from '../training/data.js';
import { createTrialContext, objectiveExport, type ObjectiveFn } from '../training/objective.js';
import { getModel } from '../training/models/index.js';
import type { Params, SearchSpace } from '../space/distribution.js';
import { fashionDataOf } from '../training/shared-dataset.js';
import type { MainMessage, ThreadInit, ThreadMessage, TrialOutcome, TrialTask } from './messages.js';

const init = workerData as ThreadInit;
// Built-in objectives train with tfjs-core and the native kernels only (lean): the tfjs
// bundle's layers, converter and data packages would cost every thread time and memory.
const loadThreadBackend = (): Promise<LoadedBackend> =>
  loadBackend(init.backend, { intraOpThreads: init.intraOpThreads, interOpThreads: init.interOpThreads, lean: true });
let data: FashionData | undefined;

function fashionData(): FashionData {
  if (data) return data;
  if (!init.dataset) throw new TrialError('the fashion-mnist objective needs the dataset, which this pool was started without');
  data = fashionDataOf(init.dataset);
  return data;
}

/**
 * Warm-up, started as soon as the thread exists (while the main thread is still setting
 * up, and possibly still decoding the dataset into the shared buffers): load the backend,
 * wrap the shared layouts as tensors (views, made once per thread) and run one op on
 * each, so that a trial's first step finds everything in place. Views are made early only
 * when the backend reads the memory in place; a backend that copies must wait for the
 * first trial, when the buffers are filled. A failure surfaces in the first trial, which
 * then fails with its message.
 */
async function warmUp(): Promise<LoadedBackend> {
  const b = await loadThreadBackend();
  const d = fashionData();
  if (!init.dataset?.zeroCopy || b.name !== init.backend) return b;
  for (const layout of Object.keys(d.shared ?? {}) as Layout[]) {
    const T = fashionTensors(b.tf, d, layout);
    b.tf.tidy(() => T.gatherTrain(b.tf.tensor1d([0], 'int32')).dataSync());
  }
  if (init.warmModel) {
    // One step on WARM_ROWS images and one validation, results discarded (the buffers may
    // still be being filled: only the first use of each kernel and code path matters).
    // A failure here is not the thread's: the real trial will meet (and report) it.
    try {
      const spec = getModel(init.warmModel);
      await runFashionTrial(b.tf, d, spec.name, lowestConfig(spec.defaultSpace), {
        seed: 0,
        maxEpochs: 1,
        trainSubset: WARM_ROWS,
        report: () => Promise.resolve(true),
      });
    } catch {
      // see above
    }
  }
  return b;
}

/** Images the warm-up trial trains on: one batch of the built-in models' smallest default. */
const WARM_ROWS = 16;

/** A valid config of `space` without sampling: every range at its low end, first choices. */
function lowestConfig(space: SearchSpace): Params {
  const params: Params = {};
  for (const [name, d] of Object.entries(space)) params[name] = d.type === 'categorical' ? d.choices[0]! : d.low;
  return params;
}

let backend: Promise<LoadedBackend> | undefined = init.dataset ? warmUp() : undefined;
backend?.catch(() => {});
const userModules = new Map<string, Promise<ObjectiveFn>>();

async function userObjective(path: string): Promise<ObjectiveFn> {
  let p = userModules.get(path);
  if (!p) {
    p = import(pathToFileURL(path).href).then((mod: Record<string, unknown>) => objectiveExport(mod, path));
    userModules.set(path, p);
  }
  return p;
}

/** The thread's backend and dataset views, loaded once (for the pack entry, pack-thread.ts). */
export async function fashionRuntime(): Promise<{ backend: LoadedBackend; data: FashionData }> {
  const b = await (backend ??= loadThreadBackend());
  return { backend: b, data: fashionData() };
}

export { runPack } from './pack-thread.js';

export default async function runTrial(task: TrialTask): Promise<TrialOutcome> {
  const { port } = task;
  const send = (m: ThreadMessage): void => port.postMessage(m);
  // First, so the main thread can stop this thread if the trial overruns its time limit.
  send({ type: 'started', threadId });
  let waiting: ((stop: boolean) => void) | undefined;
  let saving: ((ok: boolean) => void) | undefined;
  port.on('message', (m: MainMessage) => {
    if (m.type === 'checkpoint-saved') {
      const s = saving;
      saving = undefined;
      s?.(m.ok);
      return;
    }
    const w = waiting;
    waiting = undefined;
    w?.(m.stop);
  });
  const ctx = createTrialContext(
    task,
    (epoch, value) =>
      new Promise<boolean>((resolve) => {
        waiting = resolve;
        send({ type: 'report', epoch, value });
      }),
    (epoch, data) =>
      new Promise<boolean>((resolve) => {
        saving = resolve;
        send({ type: 'checkpoint', epoch, data });
      }),
  );
  try {
    if (task.objective === 'fashion-mnist') {
      const b = await (backend ??= warmUp());
      const value = await runFashionTrial(b.tf, fashionData(), task.model ?? 'softmax', task.params, {
        seed: task.seed,
        maxEpochs: task.maxEpochs,
        trainSubset: typeof task.settings['trainSubset'] === 'number' ? task.settings['trainSubset'] : undefined,
        report: ctx.report,
        resume: task.resume,
        checkpoint: (_epoch, data) => ctx.checkpoint(data),
      });
      return { value, backend: b.name };
    }
    const fn = await userObjective(task.objective);
    const value = await fn(task.params, ctx);
    if (typeof value !== 'number') throw new TrialError(`objective returned ${typeof value}, expected a number`);
    return { value, backend: null };
  } finally {
    port.close();
  }
}
