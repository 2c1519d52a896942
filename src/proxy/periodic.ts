// PeriodicTask: run one background pass now and then every interval, never overlapping, on unref'd timers.

export class PeriodicTask {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  /**
   * @param intervalMs 0 = no timer (passes run only through `runNow`).
   * @param pass one pass; must not throw (errors are the pass's to report).
   */
  constructor(
    private readonly intervalMs: number,
    private readonly pass: () => Promise<void>,
  ) {}

  get enabled(): boolean {
    return this.intervalMs > 0;
  }

  /** First pass right away (off the caller's turn), then one every interval after each pass ends. */
  start(): void {
    if (this.intervalMs > 0 && !this.stopped) this.schedule(0);
  }

  /** Run a pass now: waits for a pass in progress, then runs a fresh one. */
  async runNow(): Promise<void> {
    while (this.running !== null) await this.running;
    if (this.stopped) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.running = this.pass()
      .catch(() => undefined)
      .finally(() => {
        this.running = null;
        if (this.intervalMs > 0 && !this.stopped) this.schedule(this.intervalMs);
      });
    await this.running;
  }

  /** No more passes; resolves when the pass in progress (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running !== null) await this.running;
  }

  private schedule(ms: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runNow();
    }, ms);
    // Background work never keeps the process alive: the server does that.
    this.timer.unref();
  }
}
