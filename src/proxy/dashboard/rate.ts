// Per-second request and error counts for the last 15 minutes, in fixed arrays: O(1) per request, no allocation.
import type { RateSeries } from '../../web/types.js';

/** Seconds of history the sparkline shows. */
export const RATE_WINDOW_S = 900;

/** What the dashboard counts as an error in the rate chart: failures and throttling, not the client's own 4xx. */
export function isErrorStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

export type { RateSeries };

export class RateBuckets {
  private readonly second = new Float64Array(RATE_WINDOW_S).fill(-1);
  private readonly count = new Uint32Array(RATE_WINDOW_S);
  private readonly error = new Uint32Array(RATE_WINDOW_S);
  /** Seconds before this were not observed (no subscriber then). */
  since = Number.POSITIVE_INFINITY;

  add(ms: number, error: boolean): void {
    const s = Math.floor(ms / 1000);
    const i = s % RATE_WINDOW_S;
    if (this.second[i] !== s) {
      this.second[i] = s;
      this.count[i] = 0;
      this.error[i] = 0;
    }
    this.count[i] = (this.count[i] as number) + 1;
    if (error) this.error[i] = (this.error[i] as number) + 1;
  }

  /** Forget every second from `fromSecond` on (before refilling them from a complete source). */
  clearFrom(fromSecond: number): void {
    for (let i = 0; i < RATE_WINDOW_S; i++) {
      if ((this.second[i] as number) >= fromSecond) this.second[i] = -1;
    }
  }

  /** The last `length` seconds up to `endSecond`, oldest first. */
  series(endSecond: number, length = RATE_WINDOW_S): RateSeries {
    const n = Math.min(Math.max(1, Math.floor(length)), RATE_WINDOW_S);
    const counts = new Array<number>(n);
    const errors = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      const s = endSecond - (n - 1) + k;
      const i = ((s % RATE_WINDOW_S) + RATE_WINDOW_S) % RATE_WINDOW_S;
      const hit = this.second[i] === s;
      counts[k] = hit ? (this.count[i] as number) : 0;
      errors[k] = hit ? (this.error[i] as number) : 0;
    }
    const since = Number.isFinite(this.since) ? this.since : endSecond + 1;
    return { end: endSecond, since, counts, errors };
  }
}

const TS = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** Epoch ms of a trace `ts` (`YYYY-MM-DD HH:MM:SS +HHMM`), or null when it does not parse. */
export function traceTsMs(ts: string): number | null {
  const m = TS.exec(ts);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, sign, oh, om] = m as unknown as string[];
  const local = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!);
  const offset = (+oh! * 60 + +om!) * 60_000;
  return sign === '-' ? local + offset : local - offset;
}
