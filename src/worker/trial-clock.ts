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

/**
 * The clocks of a pack's members (--trial-timeout with packing). Each member's clock runs
 * while its pack trains: from the task's start (or, for a member that joins at an epoch
 * boundary, from the answer that lets it in) and never while the main thread handles the
 * pack's reports. A member whose time has run out is `over`: it leaves at the next epoch
 * boundary. A step cannot be interrupted, so when every member is over before the pack
 * reaches a boundary (a hung or very long epoch), `onAllOver` is called once: the pack's
 * thread must then be stopped.
 */
export class PackClocks {
  private readonly clocks = new Map<number, TrialClock>();
  private readonly overTime = new Set<number>();
  private started = false;
  private paused = 0;
  private allOver = false;

  constructor(
    private readonly budgetMs: number,
    private readonly onAllOver: () => void,
  ) {}

  /** A member enters: at once if the pack is training, else when it next resumes (or starts). */
  add(n: number): void {
    const c = new TrialClock(this.budgetMs, () => {
      this.overTime.add(n);
      if (!this.allOver && [...this.clocks.keys()].every((k) => this.overTime.has(k))) {
        this.allOver = true;
        this.onAllOver();
      }
    });
    for (let i = 0; i < this.paused; i++) c.pause();
    if (this.started) c.start();
    this.clocks.set(n, c);
  }

  /** The pack's thread has begun the task. */
  start(): void {
    this.started = true;
    for (const c of this.clocks.values()) c.start();
  }

  /** The main thread handles the pack's reports: nobody's time counts until resume(). */
  pause(): void {
    this.paused++;
    for (const c of this.clocks.values()) c.pause();
  }

  resume(): void {
    if (this.paused === 0) return;
    this.paused--;
    for (const c of this.clocks.values()) c.resume();
  }

  /** Whether member `n`'s time has run out. */
  over(n: number): boolean {
    return this.overTime.has(n);
  }

  /** Member `n` left the pack. */
  remove(n: number): void {
    this.clocks.get(n)?.stop();
    this.clocks.delete(n);
    this.overTime.delete(n);
  }

  /** The task ended. */
  stop(): void {
    for (const c of this.clocks.values()) c.stop();
    this.clocks.clear();
  }
}
