// KeyRuntime: usage snapshots turned into "out until" (used-up window) and "last in line until" (nearly used up).
import { describe, expect, it } from 'vitest';
import { formatUtc, type UsageWindow } from '../state/schema.js';
import { runtimeFromState, usageLimits } from './key-runtime.js';

const NOW = Date.UTC(2026, 0, 1);
const win = (remainingPct: number | null, resetMs: number | null): UsageWindow => ({
  limit: 100,
  used: remainingPct === null ? null : 100 - remainingPct,
  remaining: remainingPct,
  remainingRatio: remainingPct === null ? null : remainingPct / 100,
  resetAt: resetMs === null ? null : formatUtc(resetMs),
});

describe('usageLimits', () => {
  it('a used-up window keeps the key out until it resets; the later reset wins', () => {
    expect(
      usageLimits({ fiveHour: win(0, NOW + 1000), weekly: win(0, NOW + 9000) }, NOW, 300_000),
    ).toEqual({ emptyUntilMs: NOW + 9000, emptyWindow: 'weekly', lowUntilMs: 0 });
    expect(usageLimits({ fiveHour: win(0, NOW + 1000), weekly: win(60, NOW) }, NOW, 1)).toEqual({
      emptyUntilMs: NOW + 1000,
      emptyWindow: 'fiveHour',
      lowUntilMs: 0,
    });
  });

  it('without a reset time, the finding holds for the fallback after the check', () => {
    expect(usageLimits({ fiveHour: null, weekly: win(0, null) }, NOW, 300_000).emptyUntilMs).toBe(
      NOW + 300_000,
    );
    // a bare remaining ≤ 0 without a ratio counts as used up
    const bare = { ...win(null, NOW + 5000), remaining: 0 };
    expect(usageLimits({ fiveHour: bare, weekly: null }, NOW, 1).emptyUntilMs).toBe(NOW + 5000);
  });

  it('below 20 % left is low until the window resets; unknown numbers are neither', () => {
    expect(usageLimits({ fiveHour: win(19, NOW + 50_000), weekly: win(80, NOW) }, NOW, 1)).toEqual({
      emptyUntilMs: 0,
      emptyWindow: null,
      lowUntilMs: NOW + 50_000,
    });
    expect(
      usageLimits({ fiveHour: win(20, NOW + 50_000), weekly: win(null, NOW) }, NOW, 1),
    ).toEqual({
      emptyUntilMs: 0,
      emptyWindow: null,
      lowUntilMs: 0,
    });
    expect(usageLimits(null, NOW, 1).emptyUntilMs).toBe(0);
  });
});

describe('runtimeFromState', () => {
  it('reads the stored usage check', () => {
    const rt = runtimeFromState('a', {
      last_used: null,
      request_count: 3,
      error_401: 0,
      error_403: 0,
      error_429: 0,
      error_5xx: 0,
      exhausted_until: null,
      blocked_until: null,
      blocked_reason: null,
      last_usage: { fiveHour: win(0, NOW + 60_000), weekly: win(10, NOW + 120_000) },
      last_usage_at: formatUtc(NOW),
    });
    expect(rt).toMatchObject({
      lastUsageAtMs: NOW,
      usageEmptyUntilMs: NOW + 60_000,
      usageEmptyWindow: 'fiveHour',
      usageLowUntilMs: NOW + 120_000,
      requestCount: 3,
    });
    expect(runtimeFromState('b', undefined)).toMatchObject({
      lastUsageAtMs: 0,
      usage: null,
      usageEmptyUntilMs: 0,
    });
  });
});
