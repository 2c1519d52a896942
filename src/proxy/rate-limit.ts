// Sliding-window rate limits (per second and per minute), pure and clock-free: callers pass `now`.

/** An exact sliding log of the last `limit` hits, kept in a ring buffer: O(1) per check. */
export class SlidingWindow {
  private readonly times: Float64Array;
  private head = 0;
  private count = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError('limit must be a whole number ≥ 1');
    this.times = new Float64Array(limit);
  }

  /** 0 when a hit is allowed now, else the milliseconds until one will be. */
  waitMs(now: number): number {
    if (this.count < this.limit) return 0;
    const wait = (this.times[this.head] as number) + this.windowMs - now;
    return wait > 0 ? wait : 0;
  }

  /** Record a hit (call after waitMs() returned 0). */
  take(now: number): void {
    if (this.count < this.limit) {
      this.times[(this.head + this.count) % this.limit] = now;
      this.count++;
    } else {
      this.times[this.head] = now;
      this.head = (this.head + 1) % this.limit;
    }
  }
}

/** A per-second and a per-minute window together; a limit of 0 switches that window off. */
export class RateLimiter {
  private readonly windows: readonly SlidingWindow[];

  constructor(perSecond: number, perMinute: number) {
    const windows: SlidingWindow[] = [];
    if (perSecond > 0) windows.push(new SlidingWindow(perSecond, 1_000));
    if (perMinute > 0) windows.push(new SlidingWindow(perMinute, 60_000));
    this.windows = windows;
  }

  get enabled(): boolean {
    return this.windows.length > 0;
  }

  /** 0 when allowed, else the milliseconds until every window allows a hit. */
  waitMs(now: number): number {
    let wait = 0;
    for (const w of this.windows) wait = Math.max(wait, w.waitMs(now));
    return wait;
  }

  take(now: number): void {
    for (const w of this.windows) w.take(now);
  }

  /** Take a hit if allowed; returns 0 on success, else the wait in milliseconds (nothing taken). */
  tryTake(now: number): number {
    const wait = this.waitMs(now);
    if (wait === 0) this.take(now);
    return wait;
  }
}

/** Whole seconds for a Retry-After header: at least 1. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}
