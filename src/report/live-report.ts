/**
 * Keeps a report file current while a study runs: rewritten at most every `intervalMs`
 * after something changed, and once more at the end. Reading and rendering a huge study
 * takes a while on the thread that also dispatches trials, so the gap between writes grows
 * to ten times the last write's duration: the report never costs more than about a tenth of
 * that thread. A failure to write warns once and never stops the study.
 */
import { errorMessage } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { writeReport } from './write-report.js';

export interface LiveReportOptions {
  readonly storage: Storage;
  readonly study: string;
  readonly path: string;
  /** Minimum time between two writes (default 3 s). */
  readonly intervalMs?: number;
  /** Where the one warning goes if writing fails (default: stderr). */
  readonly warn?: (message: string) => void;
}

export class LiveReport {
  private readonly intervalMs: number;
  private lastWrite = 0;
  private gapMs: number;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private warned = false;
  private closed = false;
  /** How many times the file was written. */
  writes = 0;

  constructor(private readonly opts: LiveReportOptions) {
    this.intervalMs = opts.intervalMs ?? 3000;
    this.gapMs = this.intervalMs;
  }

  /** Something changed: write now if the last write is old enough, else once the interval has passed. */
  changed(): void {
    if (this.closed || this.timer !== undefined) return;
    const wait = Math.max(0, this.lastWrite + this.gapMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, wait);
    this.timer.unref();
  }

  /** Write the final state and stop. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.write();
  }

  private write(): Promise<void> {
    // Writes are chained so two never race on the same temporary name or order.
    this.writing = this.writing.then(async () => {
      const started = Date.now();
      try {
        await writeReport(this.opts.storage, this.opts.study, this.opts.path);
        this.writes++;
      } catch (e) {
        if (!this.warned) {
          this.warned = true;
          (this.opts.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`)))(`--report ${this.opts.path}: ${errorMessage(e)}`);
        }
      }
      this.lastWrite = Date.now();
      this.gapMs = Math.max(this.intervalMs, 10 * (this.lastWrite - started));
    });
    return this.writing;
  }
}
