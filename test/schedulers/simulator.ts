/**
 * A simulated trainer for schedulers (Syne Tune's simulator backend, in miniature):
 * scripted learning curves, an in-memory store, W workers and a virtual clock where one
 * epoch takes one time unit. Trials go through plan/decide exactly as the real runner
 * drives them: a free worker claims the next trial number, the trial reports after every
 * epoch, the report is stored, then the scheduler decides; 'stop' before maxEpochs prunes.
 *
 * Order within a tick is deterministic: trials report in number order, and each report is
 * stored, the scheduler woken and its decision given a full event-loop turn to settle
 * before the next trial reports.
 *
 * Parking (synchronous schedulers): a decision still pending after that turn parks the
 * trial. A parked trial holds NO worker; the worker goes to another trial. When the
 * decision resolves: 'stop' prunes it, 'continue' queues it, and at the next tick free
 * workers take queued (resumed) trials first, lowest number first, before claiming new
 * trial numbers. If nothing can run while trials are parked, the run ends as deadlocked.
 */
import type {
  Decision,
  DecisionInput,
  RungResult,
  RungStore,
  Scheduler,
  TrialProgress,
} from '../../src/schedulers/scheduler.js';

export type SimState = 'running' | 'completed' | 'pruned' | 'failed' | 'interrupted';

interface MemTrial {
  number: number;
  state: SimState;
  epochs: number;
  bracket: number | null;
  maxEpochs: number;
  reports: Map<number, number>;
}

/** In-memory RungStore with the storage's semantics (rung results per bracket, trial progress). */
export class MemoryRungStore implements RungStore {
  readonly trials = new Map<number, MemTrial>();

  create(number: number, bracket: number | null, maxEpochs: number): void {
    this.trials.set(number, { number, state: 'running', epochs: 0, bracket, maxEpochs, reports: new Map() });
  }

  report(number: number, epoch: number, value: number): void {
    const t = this.get(number);
    t.reports.set(epoch, value);
    t.epochs = epoch;
  }

  /** The simulator only completes and prunes; unit tests also fail and interrupt trials. */
  finish(number: number, state: 'completed' | 'pruned' | 'failed' | 'interrupted'): void {
    this.get(number).state = state;
  }

  get(number: number): MemTrial {
    const t = this.trials.get(number);
    if (t === undefined) throw new Error(`no trial ${number}`);
    return t;
  }

  async rungResults(_studyId: number, epoch: number, bracket?: number | null): Promise<RungResult[]> {
    const out: RungResult[] = [];
    for (const t of this.trials.values()) {
      if (bracket !== undefined && bracket !== null && t.bracket !== bracket) continue;
      const v = t.reports.get(epoch);
      if (v !== undefined) out.push({ trialNumber: t.number, value: v });
    }
    return out;
  }

  async getTrials(): Promise<readonly TrialProgress[]> {
    return [...this.trials.values()].map((t) => ({ number: t.number, state: t.state, epochs: t.epochs, bracket: t.bracket }));
  }
}

export type SimEventKind = 'start' | 'report' | 'park' | 'resume' | 'stop' | 'complete';

export interface SimEvent {
  readonly time: number;
  readonly trial: number;
  readonly kind: SimEventKind;
  /** Epochs trained so far. */
  readonly epoch: number;
}

export interface SimOutcome {
  readonly number: number;
  readonly state: SimState;
  readonly epochs: number;
  readonly bracket: number | null;
  readonly maxEpochs: number;
}

export interface SimResult {
  /** Indexed by trial number - 1. */
  readonly trials: readonly SimOutcome[];
  readonly timeline: readonly SimEvent[];
  /** Virtual time when the last trial finished (or the run deadlocked). */
  readonly time: number;
  /** Trials still parked when nothing could run any more. */
  readonly deadlocked: readonly number[];
  readonly store: MemoryRungStore;
}

export interface SimOptions {
  /** Builds a scheduler; called once, and again at each restart. */
  readonly scheduler: () => Scheduler;
  readonly trials: number;
  readonly workers: number;
  /** Value reported by trial `number` at 1-based `epoch`. */
  readonly curve: (number: number, epoch: number) => number;
  /**
   * Crash consistency: at the start of these ticks (virtual times) the scheduler object is
   * replaced by a fresh one and parked decisions are asked again of it; 'every-tick'
   * does so at every tick. The store is kept.
   */
  readonly restartAt?: readonly number[] | 'every-tick';
  readonly studyId?: number;
}

/** Let every pending promise chain that can settle, settle (the store is in memory). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Parked {
  readonly input: DecisionInput;
  readonly abort: AbortController;
}

export async function simulate(opts: SimOptions): Promise<SimResult> {
  const studyId = opts.studyId ?? 1;
  const store = new MemoryRungStore();
  const timeline: SimEvent[] = [];
  let scheduler = opts.scheduler();
  let time = 0;
  let nextNumber = 1;
  const active: number[] = [];
  const ready: number[] = [];
  const parked = new Map<number, Parked>();

  const log = (trial: number, kind: SimEventKind): void => {
    timeline.push({ time, trial, kind, epoch: store.get(trial).epochs });
  };
  const finish = (trial: number, state: 'completed' | 'pruned'): void => {
    store.finish(trial, state);
    log(trial, state === 'completed' ? 'complete' : 'stop');
    scheduler.wake();
  };

  const resolveParked = (trial: number, d: Decision): void => {
    parked.delete(trial);
    const t = store.get(trial);
    if (t.epochs >= t.maxEpochs) {
      finish(trial, 'completed');
    } else if (d === 'stop') {
      finish(trial, 'pruned');
    } else {
      ready.push(trial);
      ready.sort((a, b) => a - b);
    }
  };

  /** Parked decisions that resolved, applied in trial-number order by settle(). */
  let woken: { trial: number; decision: Decision }[] = [];
  /** Let decisions settle; apply resolved parked ones in number order until quiet. */
  const settle = async (): Promise<void> => {
    for (;;) {
      await turn();
      if (woken.length === 0) return;
      const batch = woken.sort((a, b) => a.trial - b.trial);
      woken = [];
      for (const w of batch) resolveParked(w.trial, w.decision);
    }
  };

  /** Ask the scheduler; a decision still pending after one turn parks the trial. */
  const ask = async (input: DecisionInput): Promise<Decision | 'parked'> => {
    const abort = new AbortController();
    let result: Decision | undefined;
    const p = scheduler.decide({ ...input, signal: abort.signal }, store);
    p.then(
      (d) => {
        result = d;
        if (parked.get(input.trialNumber)?.abort === abort) woken.push({ trial: input.trialNumber, decision: d });
      },
      () => undefined, // aborted: a restart asked again, or the run ended
    );
    await settle();
    if (result !== undefined) return result;
    parked.set(input.trialNumber, { input, abort });
    return 'parked';
  };

  const restart = async (): Promise<void> => {
    scheduler = opts.scheduler();
    const waiting = [...parked.values()].sort((a, b) => a.input.trialNumber - b.input.trialNumber);
    for (const w of waiting) w.abort.abort(new Error('restart'));
    parked.clear();
    for (const w of waiting) {
      const d = await ask(w.input);
      if (d !== 'parked') resolveParked(w.input.trialNumber, d);
    }
  };

  for (;;) {
    if (opts.restartAt === 'every-tick' || opts.restartAt?.includes(time)) await restart();
    while (active.length < opts.workers) {
      const resumed = ready.shift();
      if (resumed !== undefined) {
        active.push(resumed);
        log(resumed, 'resume');
      } else if (nextNumber <= opts.trials) {
        const n = nextNumber++;
        const plan = scheduler.plan(n);
        store.create(n, plan.bracket, plan.maxEpochs);
        active.push(n);
        log(n, 'start');
        scheduler.wake();
      } else break;
    }
    if (active.length === 0) break;
    time++;
    active.sort((a, b) => a - b);
    for (const n of [...active]) {
      const t = store.get(n);
      const epoch = t.epochs + 1;
      const value = opts.curve(n, epoch);
      store.report(n, epoch, value);
      log(n, 'report');
      scheduler.wake();
      const d = await ask({ studyId, trialNumber: n, bracket: t.bracket, epoch, value });
      if (d === 'parked') {
        active.splice(active.indexOf(n), 1);
        log(n, 'park');
      } else if (epoch >= t.maxEpochs || d === 'stop') {
        active.splice(active.indexOf(n), 1);
        finish(n, epoch >= t.maxEpochs ? 'completed' : 'pruned');
      }
      await settle();
    }
  }

  const deadlocked = [...parked.keys()].sort((a, b) => a - b);
  for (const p of parked.values()) p.abort.abort(new Error('deadlock'));
  const trials = [...store.trials.values()]
    .sort((a, b) => a.number - b.number)
    .map((t) => ({ number: t.number, state: t.state, epochs: t.epochs, bracket: t.bracket, maxEpochs: t.maxEpochs }));
  return { trials, timeline, time, deadlocked, store };
}

/** How many trials reported at `epoch` (reached the rung). */
export function reached(result: SimResult, epoch: number): number {
  return result.trials.filter((t) => t.epochs >= epoch).length;
}

/** Compact outcome per trial: "c10" completed after 10 epochs, "p2" pruned after 2. */
export function outcomes(result: SimResult): string[] {
  return result.trials.map((t) => `${t.state === 'completed' ? 'c' : t.state === 'pruned' ? 'p' : 'r'}${t.epochs}`);
}

/** Deterministic pseudo-random curves for property-style tests (no Math.random). */
export function randomCurves(seed: number): (number: number, epoch: number) => number {
  const hash = (n: number): number => {
    let x = (Math.imul(seed, 2654435761) + Math.imul(n, 40503)) >>> 0;
    x ^= x >>> 13;
    x = Math.imul(x, 0x5bd1e995) >>> 0;
    x ^= x >>> 15;
    return (x >>> 0) / 2 ** 32;
  };
  // Decreasing error curves whose ranking can change between epochs.
  return (n, epoch) => 0.1 + hash(n) * 0.5 + hash(n + 100000) / epoch;
}
