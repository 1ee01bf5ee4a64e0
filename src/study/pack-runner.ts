/**
 * The ask/tell loop with trial packing: like runStudy (runner.ts), but a worker thread
 * trains up to `pack` compatible trials at once (same built-in model, same batch size, same
 * shape bucket). Every trial is still a trial: claimed, heartbeated, reported, decided,
 * checkpointed and finished on its own (study-loop.ts, shared with runStudy), and a member
 * leaves its pack at the epoch where it completes, is pruned, fails or runs out of time,
 * while pending trials join at epoch boundaries (an interrupted one from its checkpoint).
 */
import { errorMessage, StorageError, TrialInterruptedError, UsageError } from '../errors.js';
import type { TrialRecord } from '../storage/storage.js';
import { packedModel, type PackedModelSpec } from '../training/packed/index.js';
import type { PackReport, PackTrialSpec } from '../worker/messages.js';
import type { TrialPool } from '../worker/pool.js';
import type { RunOptions, RunSummary } from './runner.js';
import { StudyLoop, type TaskSlot, type TrialAttempt } from './study-loop.js';

/** Options of {@link runPackedStudy}: runStudy's plus the pack size. */
export interface PackRunOptions extends Omit<RunOptions, 'pool'> {
  /** The worker-thread pool (packs need its pack tasks). */
  readonly pool: TrialPool;
  /** Most trials one thread trains together (>= 1). */
  readonly pack: number;
}

/** Whether a study's trials can be packed: the built-in objective with a packable model. */
export function packable(objective: string, model: string | null): boolean {
  return objective === 'fashion-mnist' && model !== null && packedModel(model) !== undefined;
}

/**
 * The pack size 'auto' picks, per built-in model, from the measurements in
 * native-bench/RESULTS.md (pack-k): pack where the step is launch-bound.
 */
export const AUTO_PACK: Readonly<Record<string, number>> = { softmax: 8, mlp: 1, lenet: 1 };

/**
 * The pack size a run uses: `requested` (a positive integer, or 'auto' / undefined for
 * {@link AUTO_PACK}); 1 for studies that cannot be packed.
 * @throws UsageError for a bad value, or a pack above 1 for a study that cannot be packed.
 */
export function choosePack(requested: number | 'auto' | undefined, study: { objective: string; model: string | null }): number {
  const ok = packable(study.objective, study.model);
  if (requested === undefined || requested === 'auto') return ok ? (AUTO_PACK[study.model!] ?? 1) : 1;
  if (typeof requested !== 'number' || !Number.isSafeInteger(requested) || requested < 1) {
    throw new UsageError(`pack must be a positive integer or 'auto', got ${String(requested)}`);
  }
  if (requested > 1 && !ok) {
    throw new UsageError(`pack ${requested}: only the built-in models train packed (this study's objective is ${study.objective}); use pack 1`);
  }
  return requested;
}

/**
 * Run (or resume) a study of a packable built-in model with packs of up to `pack` trials.
 * @throws UsageError when the study's model cannot be packed or `pack` is not a positive integer.
 */
export async function runPackedStudy(opts: PackRunOptions): Promise<RunSummary> {
  const { study, pool, pack } = opts;
  if (!Number.isSafeInteger(pack) || pack < 1) throw new UsageError(`pack must be a positive integer, got ${pack}`);
  const spec: PackedModelSpec | undefined = study.objective === 'fashion-mnist' && study.model !== null ? packedModel(study.model) : undefined;
  if (!spec) throw new UsageError(`trials of ${study.model ?? study.objective} cannot be packed (packing serves the built-in models)`);
  const loop = await StudyLoop.start({ ...opts, workers: pool.workers, destroy: () => pool.destroy() });

  // Claimed trials not yet in a pack, in claim order, with their compatibility key.
  const queue: { trial: TrialRecord; key: string }[] = [];
  // Trials may be claimed ahead of a free slot so that packs fill; at most this many wait.
  const lookahead = pack * pool.workers;

  /** Trials with the same key may share a pack. Invalid parameters get a key of their own (the thread rejects them). */
  const keyOf = (t: TrialRecord): string => {
    try {
      return `${spec.batchSize(t.params)}|${spec.shapeKey(t.params)}`;
    } catch {
      return `invalid|${t.number}`;
    }
  };
  const claim = async (): Promise<{ trial: TrialRecord; key: string } | null> => {
    const trial = await loop.claim();
    return trial && { trial, key: keyOf(trial) };
  };
  /** Up to `room` trials with `key`: queued ones first, then fresh claims (others queue up). */
  const take = async (key: string, room: number): Promise<TrialRecord[]> => {
    const out: TrialRecord[] = [];
    for (let i = 0; i < queue.length && out.length < room; ) {
      if (queue[i]!.key === key) out.push(queue.splice(i, 1)[0]!.trial);
      else i++;
    }
    while (out.length < room && queue.length < lookahead) {
      const c = await claim();
      if (!c) break;
      if (c.key === key) out.push(c.trial);
      else queue.push(c);
    }
    return out;
  };

  const runPack = async (first: TrialRecord[], key: string): Promise<void> => {
    const task: TaskSlot = { deciding: 0 };
    const members = new Map<number, TrialAttempt>();
    const enter = async (trial: TrialRecord): Promise<PackTrialSpec> => {
      const a = await loop.attempt(trial, task);
      members.set(trial.number, a);
      return { trialNumber: trial.number, seed: trial.seed, maxEpochs: a.plan.maxEpochs, params: trial.params, resume: a.resume };
    };
    const onReport = async ({ trialNumber, epoch, value, checkpoint }: PackReport): Promise<boolean> => {
      const a = members.get(trialNumber);
      if (!a || a.finished) return true;
      if (await a.report(epoch, value)) {
        // Completed, pruned or failed: it leaves now. Otherwise (lost, or the run is
        // stopping) it is left to the end of the pack.
        const end = a.decided();
        if (end) await a.finish(end.state, end.value, end.error);
        return true;
      }
      // Going on: its weights after this epoch are what a resumed attempt starts from.
      return checkpoint !== undefined && !(await a.checkpoint(epoch, checkpoint));
    };
    let ended: { state: 'interrupted' | 'failed'; error: string };
    try {
      const trials = await Promise.all(first.map(enter));
      await pool.runPack({ model: spec.name, batchSize: spec.batchSize(first[0]!.params), settings: { ...study.settings }, trials }, pack, {
        onReport,
        onFailed: async (n, error) => {
          await members.get(n)?.finish('failed', null, error);
        },
        join: async (room) => (loop.stopped || room <= 0 ? [] : Promise.all((await take(key, room)).map(enter))),
      });
      ended = { state: 'failed', error: 'the pack ended without a final report' };
    } catch (e) {
      // The trials did nothing wrong: a report or checkpoint could not be stored.
      if (e instanceof StorageError) throw e;
      ended = e instanceof TrialInterruptedError ? { state: 'interrupted', error: e.message } : { state: 'failed', error: errorMessage(e) };
    }
    for (const a of members.values()) {
      if (a.finished) continue;
      if (loop.stopped) await a.finish('interrupted', null, 'interrupted: the run was stopped');
      else await a.finish(ended.state, null, ended.error);
    }
  };

  return loop.run({
    next: async () => {
      const head = queue.shift() ?? (await claim());
      if (!head) return null;
      // Spread what is left over the idle workers rather than filling one pack first:
      // 6 trials on 2 workers make two packs of 3, not one of 6 and an idle thread.
      const left = Math.max(0, opts.trials - loop.finishedBefore - loop.ran - loop.holding) + queue.length + 1;
      const idle = Math.max(1, pool.workers - loop.running);
      const size = Math.min(pack, Math.ceil(left / idle));
      const members = [head.trial, ...(await take(head.key, size - 1))];
      return { trial: head.trial, done: runPack(members, head.key) };
    },
    // Claimed but never started (the run was stopped): they run again on resume.
    close: async () => {
      for (const { trial } of queue.splice(0)) await loop.giveBack(trial);
    },
  });
}
