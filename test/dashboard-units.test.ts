// Issue 10, the pure parts: per-second rate buckets, trace times, the page's stream parser, rate window and formatting.
import { describe, expect, it } from 'vitest';
import {
  isErrorStatus,
  RATE_WINDOW_S,
  RateBuckets,
  traceTsMs,
} from '../src/proxy/dashboard/rate.js';
import { isPublicAdminRoute } from '../src/proxy/admin.js';
import {
  EventStreamParser,
  formatCountdown,
  formatDuration,
  formatLatency,
  RateWindow,
  statusClass,
} from '../src/web/format.js';

describe('RateBuckets', () => {
  it('counts requests and errors per second and forgets seconds older than 15 minutes', () => {
    const r = new RateBuckets();
    const t0 = 1_700_000_000_000;
    r.add(t0, false);
    r.add(t0 + 300, true);
    r.add(t0 + 1000, false);
    const s = r.series(Math.floor(t0 / 1000) + 1, 3);
    expect(s.counts).toEqual([0, 2, 1]);
    expect(s.errors).toEqual([0, 1, 0]);
    // The same slot 900 s later belongs to a new second.
    r.add(t0 + RATE_WINDOW_S * 1000, false);
    const later = r.series(Math.floor(t0 / 1000) + RATE_WINDOW_S, RATE_WINDOW_S);
    expect(later.counts.reduce((a, b) => a + b)).toBe(1 + 1); // t0+1s is still inside the window
    expect(later.counts.at(-1)).toBe(1);
  });

  it('clears seconds from a point on, for a refill', () => {
    const r = new RateBuckets();
    r.add(10_000, false);
    r.add(20_000, false);
    r.clearFrom(15);
    expect(r.series(20, 11).counts).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('calls 5xx and 429 errors, not the client’s own 4xx', () => {
    expect([200, 400, 404, 429, 499, 500, 503].map(isErrorStatus)).toEqual([
      false,
      false,
      false,
      true,
      false,
      true,
      true,
    ]);
  });
});

describe('traceTsMs', () => {
  it('reads the trace ts with its offset', () => {
    expect(traceTsMs('2026-03-01 12:00:05 +0000')).toBe(Date.UTC(2026, 2, 1, 12, 0, 5));
    expect(traceTsMs('2026-03-01 15:00:05 +0300')).toBe(Date.UTC(2026, 2, 1, 12, 0, 5));
    expect(traceTsMs('2026-03-01 07:30:05 -0430')).toBe(Date.UTC(2026, 2, 1, 12, 0, 5));
    expect(traceTsMs('yesterday')).toBeNull();
  });
});

describe('public admin routes', () => {
  it('are only the page and its static files', () => {
    expect(['ui', 'ui/app.js', 'ui/app.css', 'ui/format.js'].every(isPublicAdminRoute)).toBe(true);
    for (const name of ['ui/state', 'ui/feed', 'actions/unblock', 'status', 'metrics', 'health'])
      expect(isPublicAdminRoute(name), name).toBe(false);
    expect(isPublicAdminRoute('ui/../status')).toBe(false);
  });
});

describe('EventStreamParser', () => {
  it('returns whole events however the text is split', () => {
    const p = new EventStreamParser();
    expect(p.push('event: hello\ndata: {"a"')).toEqual([]);
    expect(p.push(':1}\n\n: comment\n\nevent: requests\r\ndata: [1]\r\n\r\ndata: x\n')).toEqual([
      { event: 'hello', data: '{"a":1}' },
      { event: 'requests', data: '[1]' },
    ]);
    expect(p.push('\n')).toEqual([{ event: 'message', data: 'x' }]);
  });
});

describe('RateWindow', () => {
  it('takes the full series, then merges tails as time moves on', () => {
    const w = new RateWindow(5);
    w.reset({ end: 100, since: 96, counts: [1, 2, 3, 4, 5], errors: [0, 0, 1, 0, 0] });
    w.merge({ end: 102, since: 96, counts: [6, 7, 8], errors: [0, 1, 0] });
    expect(w.end).toBe(102);
    expect(w.counts).toEqual([3, 4, 6, 7, 8]);
    expect(w.errors).toEqual([1, 0, 0, 1, 0]);
    expect(w.recentRate(2)).toBe(7.5);
    expect(w.errorRatio()).toBeCloseTo(2 / 28);
    w.merge({ end: 200, since: 96, counts: [1], errors: [1] });
    expect(w.counts).toEqual([0, 0, 0, 0, 1]);
  });
});

describe('formatting', () => {
  it('keeps durations to two units and counts down to now', () => {
    expect(formatDuration(59_000)).toBe('59s');
    expect(formatDuration(125_000)).toBe('2m 05s');
    expect(formatDuration(7_800_000)).toBe('2h 10m');
    expect(formatDuration(3 * 86_400_000 + 3_600_000)).toBe('3d 1h');
    expect(formatCountdown(10_000, 4_000)).toBe('in 6s');
    expect(formatCountdown(1_000, 4_000)).toBe('now');
    expect(formatLatency(820)).toBe('820 ms');
    expect(formatLatency(1240)).toBe('1.24 s');
    expect(statusClass(503)).toBe('error');
    expect(statusClass(499)).toBe('aborted');
  });
});
