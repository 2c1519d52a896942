// Dry-run usage: a deterministic, clearly marked snapshot per key (same key → same numbers), no network.
import type { KeyRecord } from '../auth/types.js';
import { keyHash } from '../auth/mask.js';
import { formatUtc, type UsageSnapshot, type UsageWindow } from '../state/schema.js';

const MINUTE = 60_000;
const FIVE_HOURS = 300 * MINUTE;
const WEEK = 7 * 24 * 60 * MINUTE;
const LIMIT = 100;

function seedOf(key: Pick<KeyRecord, 'keyHash' | 'apiKey'>): number {
  const hex = /^[0-9a-f]{8,}$/i.test(key.keyHash) ? key.keyHash : keyHash(key.apiKey);
  return Number.parseInt(hex.slice(0, 8), 16) >>> 0;
}

/** The next instant after `now` on a grid of `period` shifted by `phase`. */
function nextBoundary(now: number, period: number, phase: number): number {
  return Math.floor((now - phase) / period) * period + phase + period;
}

function window(remainingPct: number, resetMs: number): UsageWindow {
  return {
    limit: LIMIT,
    used: LIMIT - remainingPct,
    remaining: remainingPct,
    remainingRatio: remainingPct / LIMIT,
    resetAt: formatUtc(resetMs),
  };
}

/** The two synthetic windows' numbers: weekly 35–95 % left, 5-hour 25–100 % left; resets on a per-key grid. */
function numbers(key: Pick<KeyRecord, 'keyHash' | 'apiKey'>, now: number) {
  const seed = seedOf(key);
  return {
    weeklyRemaining: 35 + (seed % 61),
    fiveHourRemaining: 25 + ((seed >>> 8) % 76),
    fiveHourReset: nextBoundary(now, FIVE_HOURS, (seed % 300) * MINUTE),
    weeklyReset: nextBoundary(now, WEEK, (seed % (7 * 24 * 60)) * MINUTE),
  };
}

/** Dry-run snapshot for `key` at `now`, marked `synthetic: true`. */
export function syntheticUsage(
  key: Pick<KeyRecord, 'keyHash' | 'apiKey'>,
  now: number,
): UsageSnapshot {
  const n = numbers(key, now);
  return {
    fiveHour: window(n.fiveHourRemaining, n.fiveHourReset),
    weekly: window(n.weeklyRemaining, n.weeklyReset),
    synthetic: true,
  };
}

/** The same numbers as a Kimi-shaped `/usages` body (numbers as strings), for the dry-run simulator. */
export function syntheticUsagePayload(
  key: Pick<KeyRecord, 'keyHash' | 'apiKey'>,
  now: number,
): Record<string, unknown> {
  const n = numbers(key, now);
  const detail = (remaining: number, reset: number) => ({
    limit: String(LIMIT),
    used: String(LIMIT - remaining),
    remaining: String(remaining),
    resetTime: new Date(reset).toISOString(),
  });
  return {
    usage: detail(n.weeklyRemaining, n.weeklyReset),
    limits: [
      {
        window: { duration: 300, timeUnit: 'TIME_UNIT_MINUTE' },
        detail: detail(n.fiveHourRemaining, n.fiveHourReset),
      },
    ],
    synthetic: true,
  };
}
