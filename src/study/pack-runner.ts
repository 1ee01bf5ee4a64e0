/**
 * The ask/tell loop with trial packing: like runStudy (runner.ts), but a worker thread
 * trains up to `pack` compatible trials at once (same built-in model, same batch size, same
 * shape bucket). Every trial is still a trial: claimed, heartbeated, reported, decided and
 * finished on its own, and a member leaves its pack at the epoch where it completes, is
 * pruned or fails, while pending trials join at epoch boundaries.
 */
import { errorMessage, UsageError } from '../errors.js';
import { trialSeed } from '../samplers/random-sampler.js';
import type { TrialPlan } from '../schedulers/scheduler.js';
import type { TrialRecord } from '../storage/storage.js';
import { packedModel, type PackedModelSpec } from '../training/packed/index.js';
import type { PackTrialSpec } from '../worker/messages.js';
import type { TrialPool } from '../worker/pool.js';
import { beginRun, sleep, type RunOptions, type RunSummary } from './runner.js';

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

interface Live {
  readonly trial: TrialRecord;
  readonly plan: TrialPlan;
  lastEpoch: number;
  lastValue: number | null;
  /** Set once the trial is finished in storage (or lost to another process). */
  done: boolean;
}

/**
 * Run (or resume) a study of a packable built-in model with packs of up to `pack` trials.
 * @throws UsageError when the study's model cannot be packed or `pack` is not a positive integer.
 */
export async function runPackedStudy(opts: PackRunOptions): Promise<RunSummary> {
  const { storage, study, pool, scheduler, sampler, signal, pack } = opts;
  if (!Number.isSafeInteger(pack) || pack < 1) throw new UsageError(`pack must be a positive integer, got ${pack}`);
  const spec: PackedModelSpec | undefined = study.objective === 'fashion-mnist' && study.model !== null ? packedModel(study.model) : undefined;
  if (!spec) throw new UsageError(`trials of ${study.model ?? study.objective} cannot be packed (packing serves the built-in models)`);
  const { emit, owner, heartbeatMs, staleAfterMs, pollMs, interruptDeadLocal, before } = await beginRun(opts);
  const finishedBefore = before.completed + before.pruned + before.failed;

  // Every trial this process holds: queued (claimed, waiting for a pack) or in a pack.
  const held = new Map<number, TrialRecord>();
  // Claimed trials not yet in a pack, in claim order, with their compatibility key.
  const queue: { trial: TrialRecord; key: string }[] = [];
  // Trials may be claimed ahead of a free slot so that packs fill; at most this many wait.
  const lookahead = pack * pool.workers;
  const packs = new Set<Promise<void>>();
  let parked = 0;
  let ran = 0;
  let wake: () => void = () => {};
  const aborted = (): boolean => signal?.aborted === true;
  signal?.addEventListener(
    'abort',
    () => {
      wake();
      pool.destroy().catch(() => {});
    },
    { once: true },
  );
  const heartbeat = setInterval(() => {
    if (held.size === 0) return;
    storage.heartbeat(owner, [...held.keys()]).catch(() => {});
  }, heartbeatMs);
  heartbeat.unref();

  /** Trials with the same key may share a pack. Invalid parameters get a key of their own (the thread rejects them). */
  const keyOf = (t: TrialRecord): string => {
    try {
      return `${spec.batchSize(t.params)}|${spec.shapeKey(t.params)}`;
    } catch {
      return `invalid|${t.number}`;
    }
  };
  let exhausted = false;
  const claim = async (): Promise<{ trial: TrialRecord; key: string } | null> => {
    if (exhausted || aborted()) return null;
    const trial = await storage.claimTrial({
      studyId: study.id,
      maxTrials: opts.trials,
      owner,
      staleAfterMs,
      newTrial: (n) => ({
        params: sampler.sample(study.space, study.seed, n),
        seed: trialSeed(study.seed, n),
        bracket: scheduler.plan(n).bracket,
      }),
    });
    if (!trial) {
      exhausted = true;
      return null;
    }
    held.set(trial.id, trial);
    return { trial, key: keyOf(trial) };
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

  const finish = async (live: Live, state: 'completed' | 'pruned' | 'failed' | 'interrupted', value: number | null, error: string | null): Promise<void> => {
    if (live.done) return;
    live.done = true;
    held.delete(live.trial.id);
    await storage.finishTrial(live.trial.id, live.trial.attempt, { state, value, error });
    scheduler.wake();
    if (state !== 'interrupted') ran++;
    exhausted = false; // a finished trial may free budget or leave interrupted trials to claim
    emit({ type: 'trial-end', trial: live.trial, state, value, epochs: live.lastEpoch, error });
  };

  const runPack = async (first: TrialRecord[], key: string): Promise<void> => {
    const lives = new Map<number, Live>();
    const enter = (trial: TrialRecord): PackTrialSpec => {
      const plan = scheduler.plan(trial.number);
      lives.set(trial.number, { trial, plan, lastEpoch: 0, lastValue: null, done: false });
      emit({ type: 'trial-start', trial, maxEpochs: plan.maxEpochs });
      return { trialNumber: trial.number, seed: trial.seed, maxEpochs: plan.maxEpochs, params: trial.params };
    };
    const trials = first.map(enter);
    let deciding = 0;
    const onReport = async (n: number, epoch: number, value: number): Promise<boolean> => {
      const live = lives.get(n);
      if (!live || live.done) return true;
      if (aborted()) return true; // left running; interrupted when the pack ends
      if (!Number.isFinite(value)) {
        await finish(live, 'failed', null, `reported a non-finite value (${value}) at epoch ${epoch}`);
        return true;
      }
      if (epoch > live.plan.maxEpochs) {
        await finish(live, 'failed', null, `reported epoch ${epoch} beyond its budget of ${live.plan.maxEpochs} epochs`);
        return true;
      }
      if (!(await storage.recordReport(live.trial.id, live.trial.attempt, epoch, value))) {
        // Another process took the trial over; its record is theirs now.
        live.done = true;
        held.delete(live.trial.id);
        return true;
      }
      live.lastEpoch = epoch;
      live.lastValue = value;
      emit({ type: 'report', trial: live.trial, epoch, value });
      if (epoch >= live.plan.maxEpochs) {
        await finish(live, 'completed', value, null);
        return true;
      }
      scheduler.wake();
      // A pack whose members all wait for a synchronous scheduler's rung uses no CPU:
      // it does not count against the workers (see runStudy's parked trials).
      if (deciding++ === 0) {
        parked++;
        if (scheduler.synchronous) wake();
      }
      let d: 'continue' | 'stop';
      try {
        d = await scheduler.decide(
          { studyId: study.id, trialNumber: n, bracket: live.trial.bracket, epoch, value, ...(signal ? { signal } : {}) },
          storage,
        );
      } finally {
        if (--deciding === 0) parked--;
      }
      if (d === 'stop') {
        await finish(live, 'pruned', value, null);
        return true;
      }
      return false;
    };
    try {
      await pool.runPack({ model: spec.name, batchSize: spec.batchSize(first[0]!.params), settings: { ...study.settings }, trials }, pack, {
        onReport,
        onRejected: async (n, error) => {
          const live = lives.get(n);
          if (live) await finish(live, 'failed', null, error);
        },
        join: async (room) => (aborted() || room <= 0 ? [] : (await take(key, room)).map(enter)),
      });
      for (const live of lives.values()) {
        if (live.done) continue;
        if (aborted()) await finish(live, 'interrupted', null, 'interrupted: the run was stopped');
        else await finish(live, 'failed', null, 'the pack ended without a final report');
      }
    } catch (e) {
      const msg = errorMessage(e);
      for (const live of lives.values()) {
        if (live.done) continue;
        if (aborted()) await finish(live, 'interrupted', null, 'interrupted: the run was stopped');
        else await finish(live, 'failed', null, msg);
      }
    }
  };

  try {
    for (;;) {
      while (!aborted() && packs.size < pool.workers + (scheduler.synchronous ? parked : 0)) {
        const head = queue.shift() ?? (await claim());
        if (!head) break;
        // Spread what is left over the idle workers rather than filling one pack first:
        // 6 trials on 2 workers make two packs of 3, not one of 6 and an idle thread.
        const left = Math.max(0, opts.trials - finishedBefore - ran - held.size) + queue.length + 1;
        const idle = Math.max(1, pool.workers - packs.size);
        const size = Math.min(pack, Math.ceil(left / idle));
        const members = [head.trial, ...(await take(head.key, size - 1))];
        const done: Promise<void> = runPack(members, head.key)
          // Only storage can throw here; the trials stay 'running' and are re-run on resume.
          .catch((e: unknown) => emit({ type: 'error', trial: head.trial, message: errorMessage(e) }))
          .finally(() => {
            packs.delete(done);
            wake();
          });
        packs.add(done);
      }
      if (packs.size === 0) {
        if (aborted()) break;
        if (queue.length > 0) continue;
        // Nothing left to claim. Other processes may still run the last trials; if one of
        // them dies, its trials go stale and become ours to claim, so keep looking.
        const counts = await storage.stateCounts(study.id);
        if (counts.running === 0) break;
        exhausted = false;
        if ((await interruptDeadLocal()) > 0) continue;
        emit({ type: 'waiting', running: counts.running });
        await sleep(pollMs, signal);
        continue;
      }
      if (aborted()) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    await Promise.all([...packs]);
    // Claimed but never started (the run was stopped): they run again on resume.
    for (const { trial } of queue.splice(0)) {
      held.delete(trial.id);
      await storage.finishTrial(trial.id, trial.attempt, { state: 'interrupted', value: null, error: 'interrupted: the run was stopped' });
    }
  } finally {
    clearInterval(heartbeat);
  }
  const counts = await storage.stateCounts(study.id);
  return { ran, counts, best: await storage.bestTrial(study.id), aborted: aborted() };
}
