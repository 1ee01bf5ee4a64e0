/**
 * The study's past as samplers see it, read from storage before each claim. Finished
 * trials are immutable, so HistoryReader keeps the ones it has read and asks storage only
 * for trials numbered above everything it knows plus the ones it last saw unfinished: two
 * small indexed queries per claim however many trials the study holds.
 */
import type { Params } from '../space/distribution.js';
import type { HistoryRow, Storage, TrialState } from '../storage/storage.js';
import { TERMINAL_STATES } from '../storage/storage.js';

/** One trial as a sampler sees it. */
export interface Observation {
  readonly number: number;
  /** completed, pruned, or running (on another worker: for the constant liar). */
  readonly state: 'completed' | 'pruned' | 'running';
  readonly params: Params;
  /** Final value (completed), last reported value (pruned), null while running. */
  readonly value: number | null;
  /** [epoch, value] ascending; empty unless the sampler asked for reports. */
  readonly reports: readonly (readonly [number, number])[];
}

/** Every trial a sampler may learn from, ascending by number. Failed and interrupted trials are left out. */
export interface History {
  readonly trials: readonly Observation[];
}

export const EMPTY_HISTORY: History = { trials: [] };

const USABLE = new Set<TrialState>(['completed', 'pruned', 'running']);

/** Keep completed, pruned and running trials, as Observations. */
export function toObservations(rows: readonly HistoryRow[]): Observation[] {
  return rows
    .filter((r) => USABLE.has(r.state))
    .map((r) => ({ number: r.number, state: r.state as Observation['state'], params: r.params, value: r.value, reports: r.reports }));
}

/** Incremental reader of one study's history (one per runner; it holds no decision state). */
export class HistoryReader {
  /** Usable finished (immutable) trials, ascending by number. */
  private finished: Observation[] = [];
  /** Highest number read so far. */
  private maxSeen = 0;
  /** Numbers read while unfinished, to ask again. */
  private pending: number[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly studyId: number,
    private readonly reports: boolean,
  ) {}

  /** The current history: completed, pruned and running trials, ascending by number. */
  async read(): Promise<History> {
    const rows = await this.storage.trialHistory(this.studyId, {
      after: this.maxSeen,
      numbers: this.pending,
      reports: this.reports,
    });
    const unfinished: HistoryRow[] = [];
    const done: HistoryRow[] = [];
    for (const r of rows) {
      this.maxSeen = Math.max(this.maxSeen, r.number);
      ((TERMINAL_STATES as readonly string[]).includes(r.state) ? done : unfinished).push(r);
    }
    this.pending = unfinished.map((r) => r.number);
    const fresh = toObservations(done);
    if (fresh.length > 0) {
      const last = this.finished[this.finished.length - 1]?.number ?? 0;
      this.finished = this.finished.concat(fresh);
      // Trials that finish out of order (several workers) need a re-sort; usually none do.
      if (fresh[0]!.number < last) this.finished.sort((a, b) => a.number - b.number);
    }
    const running = toObservations(unfinished);
    if (running.length === 0) return { trials: this.finished };
    return { trials: [...this.finished, ...running].sort((a, b) => a.number - b.number) };
  }
}
