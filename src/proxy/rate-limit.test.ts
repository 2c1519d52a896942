// Sliding windows: exact counts over a moving window, both windows together, off when 0.
import { describe, expect, it } from 'vitest';
import { RateLimiter, SlidingWindow, retryAfterSeconds } from './rate-limit.js';

describe('SlidingWindow', () => {
  it('allows `limit` hits per window and says how long to wait', () => {
    const w = new SlidingWindow(3, 1000);
    for (const t of [0, 100, 200]) {
      expect(w.waitMs(t)).toBe(0);
      w.take(t);
    }
    expect(w.waitMs(500)).toBe(500);
    expect(w.waitMs(999)).toBe(1);
    expect(w.waitMs(1000)).toBe(0);
    w.take(1000);
    expect(w.waitMs(1050)).toBe(50); // the hit at 100 leaves the window at 1100
    expect(w.waitMs(1100)).toBe(0);
  });

  it('slides rather than resetting on fixed boundaries', () => {
    const w = new SlidingWindow(2, 60_000);
    w.take(59_000);
    w.take(59_500);
    expect(w.waitMs(60_500)).toBe(58_500);
  });

  it('rejects a limit below 1', () => {
    expect(() => new SlidingWindow(0, 1000)).toThrow(RangeError);
  });
});

describe('RateLimiter', () => {
  it('is off with both limits 0', () => {
    const l = new RateLimiter(0, 0);
    expect(l.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(l.tryTake(0)).toBe(0);
  });

  it('applies per-second and per-minute windows together', () => {
    const l = new RateLimiter(2, 3);
    expect(l.tryTake(0)).toBe(0);
    expect(l.tryTake(10)).toBe(0);
    expect(l.tryTake(20)).toBe(980); // per second
    expect(l.tryTake(1000)).toBe(0);
    expect(l.tryTake(2000)).toBe(58_000); // per minute
    expect(l.tryTake(60_000)).toBe(0);
  });

  it('does not count refused hits', () => {
    const l = new RateLimiter(1, 0);
    l.tryTake(0);
    for (let t = 1; t < 1000; t += 100) expect(l.tryTake(t)).toBeGreaterThan(0);
    expect(l.tryTake(1000)).toBe(0);
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(0)).toBe(1);
  });
});
