/**
 * The pack entry of a pool thread (piscina task name `runPack`): trains the trials of a
 * PackTask together with a PackedTrainer. After every epoch it reports each member's
 * value (with its checkpoint, unless that was its last epoch) and waits for the main
 * thread's answer: members told to leave are dropped, new trials join, and the task ends
 * when no member is left.
 */
import { threadId } from 'node:worker_threads';
import { TrialError } from '../errors.js';
import { packedModel, PackedTrainer, type PackMember } from '../training/packed/index.js';
import type { PackDecisionMessage, PackOutcome, PackReport, PackTask, PackThreadMessage, PackTrialSpec } from './messages.js';
import { fashionRuntime } from './thread.js';

const member = (t: PackTrialSpec): PackMember => ({ id: t.trialNumber, seed: t.seed, params: t.params, resume: t.resume });

export async function runPack(task: PackTask): Promise<PackOutcome> {
  const { port } = task;
  const send = (m: PackThreadMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  // First, so the main thread can time the members and stop this thread if they all overrun.
  send({ type: 'started', threadId });
  let waiting: ((d: PackDecisionMessage) => void) | undefined;
  port.on('message', (m: PackDecisionMessage) => {
    const w = waiting;
    waiting = undefined;
    w?.(m);
  });
  let trainer: PackedTrainer | undefined;
  try {
    const spec = packedModel(task.model);
    if (!spec) throw new TrialError(`model "${task.model}" cannot be packed`);
    const { backend, data } = await fashionRuntime();
    const subset = task.settings['trainSubset'];
    trainer = new PackedTrainer(backend.tf, data, spec, task.batchSize, typeof subset === 'number' ? subset : undefined);
    const maxEpochs = new Map<number, number>();
    const add = (ts: readonly PackTrialSpec[]): PackMember[] => ts.map((t) => (maxEpochs.set(t.trialNumber, t.maxEpochs), member(t)));
    let rejected = trainer.regroup([], add(task.trials));
    for (;;) {
      if (trainer.size === 0 && rejected.size === 0) break;
      const reports: PackReport[] = [];
      if (trainer.size > 0) {
        trainer.trainEpoch();
        const values = trainer.validationErrors();
        const epochs = trainer.epochs;
        for (const [k, id] of trainer.ids.entries()) {
          const epoch = epochs[k]!;
          // Not after the last epoch: the trial ends there and its checkpoint would be deleted.
          const checkpoint = epoch < maxEpochs.get(id)! ? trainer.saveState(id) : undefined;
          reports.push({ trialNumber: id, epoch, value: values[k]!, ...(checkpoint ? { checkpoint } : {}) });
        }
      }
      const transfer = reports.flatMap((r) => (r.checkpoint ? [r.checkpoint.buffer as ArrayBuffer] : []));
      const d = await new Promise<PackDecisionMessage>((resolve) => {
        waiting = resolve;
        send({ type: 'pack-epoch', reports, rejected: [...rejected].map(([trialNumber, error]) => ({ trialNumber, error })) }, transfer);
      });
      for (const id of d.leave) maxEpochs.delete(id);
      rejected = trainer.regroup(d.leave, add(d.join));
    }
    return { backend: backend.name };
  } finally {
    trainer?.dispose();
    port.close();
  }
}
