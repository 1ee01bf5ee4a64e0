import { isPromotable, rungLadder } from './rungs.js';
import type { Decision, DecisionInput, RungStore, Scheduler, TrialPlan } from './scheduler.js';

export interface SuccessiveHalvingOptions {
  readonly minEpochs: number;
  readonly maxEpochs: number;
  readonly eta: number;
  /** Trials per round. Default eta^K with K + 1 rungs (d2l: 2^3 = 8 for rungs 2, 4, 8, 10). */
  readonly trialsPerRound?: number;
  /**
   * The study's trial budget, so that a last, partial round knows its size. Without it
   * every round is assumed full and a partial last round would wait forever.
   */
  readonly maxTrials?: number;
  /** How often a waiting decision re-reads the store when nobody calls wake(). Default 200 ms; Infinity: only on wake(). */
  readonly pollMs?: number;
}

const FINISHED = new Set(['completed', 'pruned', 'failed']);

/**
 * SYNCHRONOUS successive halving (Jamieson & Talwalkar 2016; d2l 19.3).
 *
 * Rounds. Trial k (1-based) belongs to round floor((k - 1) / n), n = trialsPerRound; the
 * round index is the trial's bracket, so rung values are read per round. The last round
 * holds min(n, maxTrials - round * n) trials when maxTrials is known.
 *
 * Rungs are rungLadder(r_min, r_max, eta). A trial that reports at a rung epoch r below
 * r_max waits until its round has RESOLVED the rung: every member of the round exists
 * and is either finished (completed / pruned / failed) or has reported epoch r or later
 * (interrupted members block: they are re-run from scratch). Then, ranking the n_r
 * results of the round at r by (value, trial number) ascending, it continues iff
 * isPromotable (its 0-based rank < max(1, floor(n_r / eta))): exactly the top 1/eta goes
 * on, e.g. 8 -> 4 -> 2 -> 1 for d2l. Equal values are ordered by trial number, the lower
 * number first, so ties never let more than max(1, floor(n_r / eta)) members through: a
 * round whose members all report the same value promotes its lowest-numbered ones.
 * A member that failed simply has no value at later rungs, so the rung keeps fewer.
 *
 * Waiting: decide() re-checks on wake() (the runner calls it after every stored report
 * and every finished trial) and every pollMs. The waiting trial must not hold a worker
 * (Scheduler.synchronous): the runner parks it, starts other trials, and resumes it
 * when the promise resolves. Nothing here survives a crash but the store: a restarted
 * scheduler reaches the same decisions.
 */
export class SuccessiveHalvingScheduler implements Scheduler {
  readonly name = 'successive-halving';
  readonly synchronous = true;
  readonly minEpochs: number;
  readonly maxEpochs: number;
  readonly eta: number;
  readonly rungs: readonly number[];
  readonly trialsPerRound: number;
  readonly maxTrials: number | undefined;
  readonly pollMs: number;
  private generation = 0;
  private readonly waiters = new Set<() => void>();

  constructor(opts: SuccessiveHalvingOptions) {
    this.minEpochs = opts.minEpochs;
    this.maxEpochs = opts.maxEpochs;
    this.eta = opts.eta;
    this.rungs = rungLadder(opts.minEpochs, opts.maxEpochs, opts.eta);
    this.trialsPerRound = opts.trialsPerRound ?? opts.eta ** (this.rungs.length - 1);
    this.maxTrials = opts.maxTrials;
    this.pollMs = opts.pollMs ?? 200;
  }

  roundOf(trialNumber: number): number {
    return Math.floor((trialNumber - 1) / this.trialsPerRound);
  }

  /** Numbers of the first and last trial of a round. */
  roundMembers(round: number): { first: number; last: number } {
    const first = round * this.trialsPerRound + 1;
    let last = first + this.trialsPerRound - 1;
    if (this.maxTrials !== undefined) last = Math.min(last, this.maxTrials);
    return { first, last };
  }

  plan(trialNumber: number): TrialPlan {
    return { maxEpochs: this.maxEpochs, bracket: this.roundOf(trialNumber) };
  }

  async decide(input: DecisionInput, store: RungStore): Promise<Decision> {
    if (input.epoch >= this.maxEpochs || !this.rungs.includes(input.epoch)) return 'continue';
    for (;;) {
      input.signal?.throwIfAborted();
      // Taken before reading the store, so a wake() during the read is not lost.
      const seen = this.generation;
      const decision = await this.tryDecide(input, store);
      if (decision !== null) return decision;
      await this.changed(seen, input.signal);
    }
  }

  /** The decision if the trial's round has resolved its rung, else null (wait). */
  async tryDecide(input: DecisionInput, store: RungStore): Promise<Decision | null> {
    const round = input.bracket ?? this.roundOf(input.trialNumber);
    const { first, last } = this.roundMembers(round);
    const trials = await store.getTrials(input.studyId);
    let present = 0;
    for (const t of trials) {
      if (t.number < first || t.number > last) continue;
      present++;
      const done = FINISHED.has(t.state) || (t.state === 'running' && t.epochs >= input.epoch);
      if (!done) return null;
    }
    if (present < last - first + 1) return null;
    const results = await store.rungResults(input.studyId, input.epoch, round);
    const own = { trialNumber: input.trialNumber, value: input.value };
    return isPromotable(own, results, this.eta) ? 'continue' : 'stop';
  }

  wake(): void {
    this.generation++;
    for (const resolve of [...this.waiters]) resolve();
  }

  private changed(seen: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.generation !== seen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
      };
      const done = (): void => {
        cleanup();
        resolve();
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal?.reason);
      };
      this.waiters.add(done);
      if (Number.isFinite(this.pollMs)) timer = setTimeout(done, this.pollMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
