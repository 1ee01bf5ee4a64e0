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
import { runFashionTrial } from '../training/fashion-objective.js';
import { loadBackend, type LoadedBackend } from '../training/backend.js';
import { createTrialContext, objectiveExport, type ObjectiveFn } from '../training/objective.js';
import type { MainMessage, ThreadInit, ThreadMessage, TrialOutcome, TrialTask } from './messages.js';

const init = workerData as ThreadInit;
const loadThreadBackend = (): Promise<LoadedBackend> =>
  loadBackend(init.backend, { intraOpThreads: init.intraOpThreads, interOpThreads: init.interOpThreads });
// Built-in objectives: start loading the backend as soon as the thread exists, so that the
// pool's threads warm up together while the main thread is still setting up. A failure
// surfaces in the first trial, which then fails with its message.
let backend: Promise<LoadedBackend> | undefined = init.dataset ? loadThreadBackend() : undefined;
backend?.catch(() => {});
let data: FashionData | undefined;
const userModules = new Map<string, Promise<ObjectiveFn>>();

function fashionData(): FashionData {
  if (data) return data;
  const d = init.dataset;
  if (!d) throw new TrialError('the fashion-mnist objective needs the dataset, which this pool was started without');
  data = {
    trainImages: new Uint8Array(d.trainImages),
    trainLabels: new Uint8Array(d.trainLabels),
    testImages: new Uint8Array(d.testImages),
    testLabels: new Uint8Array(d.testLabels),
  };
  return data;
}

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
      const b = await (backend ??= loadThreadBackend());
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
