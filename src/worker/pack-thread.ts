/**
 * The pack entry of a pool thread (piscina task name `runPack`): trains the trials of a
 * PackTask together with a PackedTrainer. After every epoch it reports each member's
 * value and waits for the main thread's answer: members told to leave are dropped, new
 * trials join, and the task ends when no member is left.
 */
import { TrialError } from '../errors.js';
import { packedModel, PackedTrainer } from '../training/packed/index.js';
import type { PackDecisionMessage, PackEpochMessage, PackOutcome, PackTask, PackTrialSpec } from './messages.js';
import { fashionRuntime } from './thread.js';

const member = (t: PackTrialSpec) => ({ id: t.trialNumber, seed: t.seed, params: t.params });

export async function runPack(task: PackTask): Promise<PackOutcome> {
  const { port } = task;
  let waiting: ((d: PackDecisionMessage) => void) | undefined;
  port.on('message', (m: PackDecisionMessage) => {
    const w = waiting;
    waiting = undefined;
    w?.(m);
  });
  const ask = (msg: PackEpochMessage): Promise<PackDecisionMessage> =>
    new Promise((resolve) => {
      waiting = resolve;
      port.postMessage(msg);
    });
  let trainer: PackedTrainer | undefined;
  try {
    const spec = packedModel(task.model);
    if (!spec) throw new TrialError(`model "${task.model}" cannot be packed`);
    const { backend, data } = await fashionRuntime();
    const subset = task.settings['trainSubset'];
    trainer = new PackedTrainer(backend.tf, data, spec, task.batchSize, typeof subset === 'number' ? subset : undefined);
    let rejected = trainer.regroup([], task.trials.map(member));
    const epochs = new Map<number, number>();
    for (;;) {
      if (trainer.size === 0 && rejected.size === 0) break;
      const reports: { trialNumber: number; epoch: number; value: number }[] = [];
      if (trainer.size > 0) {
        trainer.trainEpoch();
        const values = trainer.validationErrors();
        trainer.ids.forEach((id, k) => {
          const epoch = (epochs.get(id) ?? 0) + 1;
          epochs.set(id, epoch);
          reports.push({ trialNumber: id, epoch, value: values[k]! });
        });
      }
      const d = await ask({ type: 'pack-epoch', reports, rejected: [...rejected].map(([trialNumber, error]) => ({ trialNumber, error })) });
      for (const id of d.leave) epochs.delete(id);
      rejected = trainer.regroup(d.leave, d.join.map(member));
    }
    return { backend: backend.name };
  } finally {
    trainer?.dispose();
    port.close();
  }
}
