import type { StudyEvent } from '../study/runner.js';
import type { TrialState } from '../storage/storage.js';
import { fmtDuration, fmtParams, fmtValue } from './format.js';

/**
 * Progress output of `hpo run`: on a terminal one live line (done/total, running, best so
 * far, ETA), otherwise one line per finished trial.
 */
export class Progress {
  private done = 0;
  private running = 0;
  private best: { value: number; number: number } | undefined;
  private readonly started = new Map<number, number>();
  private readonly durations: number[] = [];
  private readonly t0 = Date.now();
  private readonly live: boolean;
  private lastLine = '';
  /** Set while the database is unreachable: the status line says so. */
  private dbDown: { elapsedMs: number; message: string } | undefined;
  private dbNoticePrinted = false;

  constructor(
    private readonly total: number,
    private readonly workers: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    alreadyDone = 0,
    best?: { value: number; number: number },
  ) {
    this.live = out.isTTY === true && process.env['CI'] === undefined;
    this.done = alreadyDone;
    this.best = best;
  }

  private status(): string {
    const remaining = this.total - this.done;
    const avg = this.durations.length ? this.durations.reduce((a, b) => a + b, 0) / this.durations.length : NaN;
    const eta = remaining > 0 && Number.isFinite(avg) ? fmtDuration((avg * remaining) / this.workers) : remaining > 0 ? '?' : '0s';
    const best = this.best ? `${fmtValue(this.best.value)} (#${this.best.number})` : '-';
    if (this.dbDown) return `[${this.done}/${this.total}] database unreachable, retrying (${Math.round(this.dbDown.elapsedMs / 1000)} s)`;
    return `[${this.done}/${this.total}] running ${this.running} | best ${best} | elapsed ${fmtDuration(Date.now() - this.t0)} | ETA ${eta}`;
  }

  private redraw(): void {
    if (!this.live) return;
    const line = this.status();
    const pad = Math.max(0, this.lastLine.length - line.length);
    this.out.write(`\r${line}${' '.repeat(pad)}`);
    this.lastLine = line;
  }

  private print(text: string): void {
    if (this.live) this.out.write(`\r${' '.repeat(this.lastLine.length)}\r`);
    this.out.write(text + '\n');
    this.lastLine = '';
    this.redraw();
  }

  readonly onEvent = (e: StudyEvent): void => {
    switch (e.type) {
      case 'resumed':
        this.print(
          `resuming: ${e.completed} completed trial(s) kept${e.interrupted + e.recovered > 0 ? `, ${e.interrupted + e.recovered} interrupted trial(s) will run again` : ''}`,
        );
        break;
      case 'db-retrying':
        this.dbDown = { elapsedMs: e.elapsedMs, message: e.message };
        // Without a live line, one notice per outage (not one per retried call).
        if (!this.live && !this.dbNoticePrinted) {
          this.dbNoticePrinted = true;
          this.print(`database unreachable, retrying (${Math.round(e.elapsedMs / 1000)} s): ${e.message}`);
        } else this.redraw();
        break;
      case 'db-recovered':
        this.dbDown = undefined;
        this.dbNoticePrinted = false;
        this.print(`database reachable again after ${fmtDuration(e.elapsedMs)}`);
        break;
      case 'trial-start':
        this.running++;
        if (e.resumedFrom !== undefined) this.print(`trial ${e.trial.number} resumes from its checkpoint after epoch ${e.resumedFrom}`);
        this.started.set(e.trial.id, Date.now());
        this.redraw();
        break;
      case 'report':
        this.redraw();
        break;
      case 'waiting':
        this.redraw();
        break;
      case 'error':
        this.running--;
        this.print(`trial ${e.trial.number}: could not record its outcome (${e.message}); it will run again on resume`);
        break;
      case 'trial-end': {
        this.running--;
        const ms = Date.now() - (this.started.get(e.trial.id) ?? Date.now());
        if (e.state !== 'interrupted') {
          this.done++;
          this.durations.push(ms);
        }
        // Same order as Storage.bestTrial: lowest value, ties to the lowest number.
        const b = this.best;
        if (e.state === 'completed' && e.value !== null && (!b || e.value < b.value || (e.value === b.value && e.trial.number < b.number))) {
          this.best = { value: e.value, number: e.trial.number };
        }
        const what = stateText(e.state, e.value, e.epochs, e.error);
        this.print(`trial ${e.trial.number} ${what} in ${fmtDuration(ms)}  ${fmtParams(e.trial.params)}  ${this.live ? '' : this.status()}`.trimEnd());
        break;
      }
    }
  };

  finish(): void {
    if (this.live && this.lastLine) this.out.write('\n');
    this.lastLine = '';
  }
}

function stateText(state: TrialState, value: number | null, epochs: number, error: string | null): string {
  switch (state) {
    case 'completed':
      return `completed: value ${fmtValue(value)} after ${epochs} epoch(s)`;
    case 'pruned':
      return `pruned at epoch ${epochs} (value ${fmtValue(value)})`;
    case 'failed':
      return `FAILED: ${error ?? 'unknown error'}`;
    default:
      return error ? (error.startsWith(state) ? error : `${state}: ${error}`) : state;
  }
}
