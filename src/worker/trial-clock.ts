/**
 * A timeout that counts only while it runs: paused while the main thread handles one of
 * the trial's messages (its storage writes and the scheduler's decision are not the
 * trial's time), resumed when the last answer is sent.
 */
export class TrialClock {
  private left: number;
  private since: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private paused = 0;
  private started = false;
  private fired = false;

  constructor(
    budgetMs: number,
    private readonly onTimeout: () => void,
  ) {
    this.left = budgetMs;
  }

  /** Start counting (when the thread begins the trial, not while it waits in the queue). */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.paused === 0) this.arm();
  }

  /** Stop counting until the matching resume(); nests. */
  pause(): void {
    if (this.paused++ === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.left -= Date.now() - (this.since ?? Date.now());
    }
  }

  resume(): void {
    if (this.paused === 0) return;
    if (--this.paused === 0 && this.started) this.arm();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.fired = true;
  }

  private arm(): void {
    if (this.fired) return;
    this.since = Date.now();
    this.timer = setTimeout(() => {
      this.fired = true;
      this.onTimeout();
    }, Math.max(0, this.left));
    // A pending timeout must not keep the process alive on its own.
    this.timer.unref();
  }
}
