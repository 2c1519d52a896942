// Key selection: exact round-robin, manual preference, skip reasons and their wording.
import { describe, expect, it } from 'vitest';
import { runtimeFromState } from './key-runtime.js';
import {
  describeSkip,
  isLowOnUsage,
  pickKey,
  resolveActiveIndex,
  unavailability,
} from './select.js';

const OPEN = { usageMaxAgeMs: 0, usageFailOpen: true };

describe('pickKey', () => {
  it('round-robin over 4 keys: 400 picks → exactly 100 each', () => {
    let pointer = 0;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 400; i++) {
      const k = pickKey(4, pointer, () => true);
      counts[k]!++;
      pointer = (k + 1) % 4;
    }
    expect(counts).toEqual([100, 100, 100, 100]);
  });

  it('skips unusable keys and wraps around', () => {
    expect(pickKey(5, 3, (i) => i === 1)).toBe(1);
    expect(pickKey(5, 3, (i) => i !== 3)).toBe(4);
    expect(pickKey(5, 7, () => true)).toBe(2);
    expect(pickKey(3, 0, () => false)).toBe(-1);
    expect(pickKey(0, 0, () => true)).toBe(-1);
  });

  it('stays even when one key is out: 300 picks over 4 keys with one skipped → 100 each of the others', () => {
    let pointer = 0;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 300; i++) {
      const k = pickKey(4, pointer, (j) => j !== 2);
      counts[k]!++;
      pointer = (k + 1) % 4;
    }
    expect(counts).toEqual([100, 100, 0, 100]);
  });

  it('takes a low key only when no other usable key is found, in one pass', () => {
    const low = (i: number) => i === 1 || i === 2;
    let calls = 0;
    const usable = () => (calls++, true);
    expect(pickKey(4, 1, usable, low)).toBe(3);
    expect(calls).toBe(3);
    // round-robin over the healthy keys never lands on a low one
    let pointer = 0;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 200; i++) {
      const k = pickKey(4, pointer, () => true, low);
      counts[k]!++;
      pointer = (k + 1) % 4;
    }
    expect(counts).toEqual([100, 0, 0, 100]);
    // no healthy key left: the first low key from the pointer
    expect(pickKey(4, 2, (i) => i !== 0 && i !== 3, low)).toBe(2);
    expect(pickKey(4, 3, (i) => i !== 0 && i !== 3, low)).toBe(1);
    expect(pickKey(4, 0, () => false, low)).toBe(-1);
  });
});

describe('resolveActiveIndex', () => {
  it('prefers active_label, then active_index in range, else 0', () => {
    expect(resolveActiveIndex(['a', 'b', 'c'], 'c', 0)).toBe(2);
    expect(resolveActiveIndex(['a', 'b', 'c'], 'zz', 1)).toBe(1);
    expect(resolveActiveIndex(['a', 'b', 'c'], null, 7)).toBe(0);
    expect(resolveActiveIndex(['a', 'b', 'c'], undefined, -1)).toBe(0);
  });
});

describe('unavailability', () => {
  const NOW = Date.UTC(2026, 0, 1);
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const rt = (ks: Record<string, unknown> = {}) =>
    runtimeFromState('k', {
      last_used: null,
      request_count: 0,
      error_401: 0,
      error_403: 0,
      error_429: 0,
      error_5xx: 0,
      exhausted_until: null,
      blocked_until: null,
      blocked_reason: null,
      ...ks,
    });

  it('says why a key cannot serve', () => {
    expect(unavailability(rt(), false, true, NOW, OPEN)).toBeNull();
    expect(unavailability(rt(), true, true, NOW, OPEN)?.reason).toBe('disabled');
    expect(unavailability(rt(), false, false, NOW, OPEN)?.reason).toBe('upstream_not_allowed');
    expect(unavailability(rt({ blocked_reason: 'auth' }), false, true, NOW, OPEN)).toEqual({
      label: 'k',
      reason: 'blocked',
      detail: 'auth',
      untilMs: null,
    });
    expect(
      unavailability(
        rt({ blocked_reason: 'payment', blocked_until: iso(NOW + 5000) }),
        false,
        true,
        NOW,
        OPEN,
      )?.untilMs,
    ).toBe(NOW + 5000);
    expect(
      unavailability(
        rt({ blocked_reason: 'payment', blocked_until: iso(NOW - 5000) }),
        false,
        true,
        NOW,
        OPEN,
      ),
    ).toBeNull();
    expect(unavailability(rt({ blocked_until: 'garbage' }), false, true, NOW, OPEN)?.reason).toBe(
      'blocked',
    );
    expect(
      unavailability(rt({ exhausted_until: iso(NOW + 1000) }), false, true, NOW, OPEN),
    ).toEqual({ label: 'k', reason: 'exhausted', detail: null, untilMs: NOW + 1000 });
    expect(unavailability(rt({ exhausted_until: iso(NOW) }), false, true, NOW, OPEN)).toBeNull();
  });

  it('with the strict usage check, needs a fresh successful check', () => {
    const strict = { usageMaxAgeMs: 60_000, usageFailOpen: false };
    expect(unavailability(rt(), false, true, NOW, strict)?.reason).toBe('usage_unchecked');
    expect(
      unavailability(rt({ last_usage_at: iso(NOW - 30_000) }), false, true, NOW, strict),
    ).toBeNull();
    expect(
      unavailability(rt({ last_usage_at: iso(NOW - 90_000) }), false, true, NOW, strict)?.reason,
    ).toBe('usage_unchecked');
  });

  it('skips a key whose usage window is used up until that window resets', () => {
    const snapshot = (weekly: number, five: number) => ({
      weekly: {
        limit: 100,
        used: 100 - weekly,
        remaining: weekly,
        remainingRatio: weekly / 100,
        resetAt: iso(NOW + 3_600_000),
      },
      fiveHour: {
        limit: 100,
        used: 100 - five,
        remaining: five,
        remainingRatio: five / 100,
        resetAt: iso(NOW + 60_000),
      },
    });
    const drained = rt({ last_usage: snapshot(0, 50), last_usage_at: iso(NOW - 1000) });
    const skip = unavailability(drained, false, true, NOW, OPEN);
    expect(skip).toEqual({
      label: 'k',
      reason: 'exhausted',
      detail: 'weekly usage window used up',
      untilMs: NOW + 3_600_000,
    });
    expect(describeSkip(skip!)).toBe('k: weekly usage window used up until 2026-01-01T01:00:00Z');
    expect(unavailability(drained, false, true, NOW + 3_600_000, OPEN)).toBeNull();
    const five = rt({ last_usage: snapshot(50, 0), last_usage_at: iso(NOW - 1000) });
    expect(unavailability(five, false, true, NOW, OPEN)?.detail).toBe(
      '5-hour usage window used up',
    );
    const low = rt({ last_usage: snapshot(10, 50), last_usage_at: iso(NOW - 1000) });
    expect(unavailability(low, false, true, NOW, OPEN)).toBeNull();
    expect(isLowOnUsage(low, NOW)).toBe(true);
    expect(isLowOnUsage(low, NOW + 3_600_000)).toBe(false);
    expect(isLowOnUsage(rt({ last_usage: snapshot(50, 50), last_usage_at: iso(NOW) }), NOW)).toBe(
      false,
    );
  });

  it('names the settings behind a strict-check refusal', () => {
    const first = unavailability(rt(), false, true, NOW, {
      usageMaxAgeMs: 60_000,
      usageFailOpen: false,
      firstRefreshPending: true,
    });
    expect(describeSkip(first!)).toMatch(/KMI_FAIL_OPEN_ON_EMPTY_CACHE=0/);
    const stale = unavailability(rt(), false, true, NOW, {
      usageMaxAgeMs: 60_000,
      usageFailOpen: false,
    });
    expect(describeSkip(stale!)).toMatch(/KMI_REQUIRE_USAGE_BEFORE_REQUEST=1/);
  });

  it('describes skips with labels only', () => {
    expect(describeSkip({ label: 'a', reason: 'blocked', detail: 'auth', untilMs: null })).toBe(
      'a: blocked (auth)',
    );
    expect(
      describeSkip({ label: 'b', reason: 'exhausted', detail: 'upstream 429', untilMs: NOW }),
    ).toBe('b: cooling down after upstream 429 until 2026-01-01T00:00:00Z');
  });
});
