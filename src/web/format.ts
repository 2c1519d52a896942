// Pure helpers of the dashboard page: durations, countdowns, numbers, and the event-stream parser (no DOM use).

/** `2d 3h`, `3h 12m`, `4m 05s`, `12s` — two units at most, so cells keep their width. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** `in 2h 10m`, or `now` once the time has passed. */
export function formatCountdown(atMs: number, nowMs: number): string {
  return atMs <= nowMs ? 'now' : `in ${formatDuration(atMs - nowMs)}`;
}

/** `12s ago`, `never` for null. */
export function formatAgo(atMs: number | null, nowMs: number): string {
  if (atMs === null) return 'never';
  const ms = nowMs - atMs;
  return ms < 1000 ? 'just now' : `${formatDuration(ms)} ago`;
}

/** `1,234` with thin grouping that works offline in any locale. */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `820 ms`, `1.24 s`, `2m 05s`. */
export function formatLatency(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return formatDuration(ms);
}

export function formatPct(pct: number | null, digits = 0): string {
  if (pct === null || !Number.isFinite(pct)) return '—';
  return `${pct.toFixed(digits)}%`;
}

/** The clock part of a trace `ts` (`YYYY-MM-DD HH:MM:SS +HHMM`, in KMI_TIMEZONE). */
export function clockOfTs(ts: string): string {
  const m = /\d{2}:\d{2}:\d{2}/.exec(ts);
  return m === null ? ts : m[0];
}

/** A colour class for an HTTP status in the feed. */
export function statusClass(status: number): 'ok' | 'client' | 'throttled' | 'error' | 'aborted' {
  if (status === 499) return 'aborted';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'error';
  if (status >= 400) return 'client';
  return 'ok';
}

export interface StreamEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * An incremental `text/event-stream` parser (the browser's EventSource cannot send the token header,
 * so the page reads the stream with fetch). Feed it decoded text as it arrives; it returns whole events.
 */
export class EventStreamParser {
  private buffer = '';

  push(chunk: string): StreamEvent[] {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    const events: StreamEvent[] = [];
    let end = this.buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) events.push({ event, data: data.join('\n') });
      end = this.buffer.indexOf('\n\n');
    }
    return events;
  }
}

/** Per-second counts for the last `length` seconds ending at `end`, kept as the server sends them. */
export class RateWindow {
  end = 0;
  since = 0;
  counts: number[];
  errors: number[];

  constructor(readonly length: number) {
    this.counts = new Array<number>(length).fill(0);
    this.errors = new Array<number>(length).fill(0);
  }

  /** Replace everything (the first message). */
  reset(series: RateSeriesData): void {
    this.end = series.end;
    this.since = series.since;
    this.counts = fit(series.counts, this.length);
    this.errors = fit(series.errors, this.length);
  }

  /** Merge the last few seconds (each tick), moving the window forward. */
  merge(tail: RateSeriesData): void {
    const shift = tail.end - this.end;
    if (shift >= this.length || this.end === 0) {
      this.counts.fill(0);
      this.errors.fill(0);
    } else if (shift > 0) {
      this.counts.splice(0, shift);
      this.errors.splice(0, shift);
      for (let i = 0; i < shift; i++) {
        this.counts.push(0);
        this.errors.push(0);
      }
    }
    if (shift > 0 || this.end === 0) this.end = tail.end;
    this.since = Math.min(this.since || tail.since, tail.since);
    const n = tail.counts.length;
    for (let k = 0; k < n; k++) {
      const i = this.length - 1 - (this.end - tail.end) - (n - 1 - k);
      if (i < 0 || i >= this.length) continue;
      this.counts[i] = tail.counts[k] ?? 0;
      this.errors[i] = tail.errors[k] ?? 0;
    }
  }

  /** Mean requests per second over the last `seconds` seconds. */
  recentRate(seconds: number): number {
    const n = Math.min(seconds, this.length);
    let sum = 0;
    for (let i = this.length - n; i < this.length; i++) sum += this.counts[i] ?? 0;
    return sum / n;
  }

  /** Errors / requests over the whole window; null without requests. */
  errorRatio(): number | null {
    let c = 0;
    let e = 0;
    for (let i = 0; i < this.length; i++) {
      c += this.counts[i] ?? 0;
      e += this.errors[i] ?? 0;
    }
    return c === 0 ? null : e / c;
  }
}

export interface RateSeriesData {
  readonly end: number;
  readonly since: number;
  readonly counts: readonly number[];
  readonly errors: readonly number[];
}

function fit(values: readonly number[], length: number): number[] {
  const out = values.slice(-length);
  while (out.length < length) out.unshift(0);
  return out;
}
