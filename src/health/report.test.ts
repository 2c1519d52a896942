import { describe, expect, it } from 'vitest';
import type { KeyRecord } from '../auth/types.js';
import { keyHash, maskKey } from '../auth/mask.js';
import { emptyKeyState, emptyState, formatUtc, type UsageSnapshot } from '../state/schema.js';
import { buildHealthReport, formatRelative, healthRowJson, healthTable } from './report.js';
import type { UsageResult } from './usage-client.js';

const now = Date.UTC(2026, 0, 5, 12);
const H = 3_600_000;
const M = 60_000;

function key(label: string, over: Partial<KeyRecord> = {}): KeyRecord {
  const apiKey = `sk-${label}-${'x'.repeat(30)}`;
  return {
    label,
    apiKey,
    maskedKey: maskKey(apiKey),
    keyHash: keyHash(apiKey),
    source: `/auths/${label}.env`,
    format: 'env',
    baseUrl: null,
    priority: 0,
    disabled: false,
    email: `${label}@example.com`,
    provider: null,
    ...over,
  };
}
const snap = (five: number, weekly: number): UsageSnapshot => ({
  fiveHour: {
    limit: 100,
    used: 100 - five,
    remaining: five,
    remainingRatio: five / 100,
    resetAt: formatUtc(now + 2 * H + 10 * M),
  },
  weekly: {
    limit: 100,
    used: 100 - weekly,
    remaining: weekly,
    remainingRatio: weekly / 100,
    resetAt: formatUtc(now + 72 * H),
  },
});
const ok = (five: number, weekly: number): UsageResult => ({
  ok: true,
  snapshot: snap(five, weekly),
});

describe('formatRelative', () => {
  it('says "in …" for the future and "… ago" for the past', () => {
    expect(formatRelative(now + 2 * H + 10 * M, now, 'en')).toBe('in 2h 10m');
    expect(formatRelative(now - 5 * M, now, 'en')).toBe('5m ago');
    expect(formatRelative(now + 3 * H, now, 'en')).toBe('in 3h');
    expect(formatRelative(now + 50 * H, now, 'en')).toBe('in 2d 2h');
    expect(formatRelative(now + 20_000, now, 'en')).toBe('in <1m');
    expect(formatRelative(now - 2 * H - 10 * M, now, 'ru')).toBe('2 ч 10 мин назад');
    expect(formatRelative(now + 5 * M, now, 'ru')).toBe('через 5 мин');
  });
});

describe('buildHealthReport', () => {
  const keys = [
    key('blocked', { disabled: true }),
    key('low', {}),
    key('big'),
    key('mid'),
    key('cur'),
    key('gone'),
  ];
  const state = emptyState();
  state.keys.big = {
    ...emptyKeyState(),
    request_count: 10,
    error_5xx: 0,
    last_used: formatUtc(now - 5 * M),
  };
  state.keys.mid = { ...emptyKeyState(), request_count: 4, error_429: 0 };
  state.keys.gone = {
    ...emptyKeyState(),
    request_count: 20,
    error_401: 1,
    error_403: 2,
    error_429: 3,
    error_5xx: 4,
  };
  const results = new Map<string, UsageResult>([
    ['blocked', ok(90, 90)],
    ['low', ok(10, 90)],
    ['big', ok(95, 90)],
    ['mid', ok(60, 70)],
    ['cur', ok(30, 30)],
    ['gone', ok(0, 50)],
  ]);

  it('orders current first, then healthy by most remaining, warn, exhausted, blocked', () => {
    const r = buildHealthReport({
      keys,
      state,
      results,
      now,
      currentLabel: 'cur',
      includeWarn: false,
      rotateOnTie: true,
    });
    expect(r.rows.map((x) => [x.label, x.status])).toEqual([
      ['cur', 'healthy'],
      ['big', 'healthy'],
      ['mid', 'healthy'],
      ['low', 'warn'],
      ['gone', 'exhausted'],
      ['blocked', 'blocked'],
    ]);
    expect(r.counts).toEqual({ healthy: 3, warn: 1, exhausted: 1, blocked: 1 });
    expect(r.currentLabel).toBe('cur');
    expect(r.checked).toBe(6);
    expect(r.failed).toBe(0);
  });

  it('marks the current key and the key rotate would pick', () => {
    const r = buildHealthReport({
      keys,
      state,
      results,
      now,
      currentLabel: 'cur',
      includeWarn: false,
      rotateOnTie: true,
    });
    expect(r.rows.filter((x) => x.current).map((x) => x.label)).toEqual(['cur']);
    // big: 10 % used of its tighter window (weekly) — the lowest.
    expect(r.rows.filter((x) => x.next).map((x) => x.label)).toEqual(['big']);
    expect(r.rotation.choice).toBe('big');
  });

  it('carries the fields a dashboard needs', () => {
    const r = buildHealthReport({
      keys,
      state,
      results,
      now,
      currentLabel: null,
      includeWarn: false,
      rotateOnTie: true,
    });
    const gone = r.rows.find((x) => x.label === 'gone');
    expect(gone).toMatchObject({
      maskedKey: maskKey(keys[5]?.apiKey as string),
      email: 'gone@example.com',
      fiveHourRemainingPct: 0,
      weeklyRemainingPct: 50,
      requests: 20,
      errors: { e401: 1, e403: 2, e429: 3, e5xx: 4, total: 10 },
      current: false,
    });
    expect(gone?.resetAt).toBe(now + 2 * H + 10 * M);
    const big = r.rows.find((x) => x.label === 'big');
    expect(big?.lastUsed).toBe(now - 5 * M);
    expect(r.currentLabel).toBeNull();
  });

  it('an unknown current label marks nothing', () => {
    const r = buildHealthReport({
      keys,
      state,
      results,
      now,
      currentLabel: 'nope',
      includeWarn: false,
      rotateOnTie: true,
    });
    expect(r.rows.some((x) => x.current)).toBe(false);
    expect(r.currentLabel).toBeNull();
  });

  it('counts failed checks', () => {
    const failing = new Map<string, UsageResult>([
      ['big', { ok: false, kind: 'network', detail: 'x' }],
    ]);
    const r = buildHealthReport({
      keys,
      state,
      results: failing,
      now,
      currentLabel: null,
      includeWarn: false,
      rotateOnTie: true,
    });
    expect(r.checked).toBe(1);
    expect(r.failed).toBe(1);
  });

  it('table cells and JSON rows', () => {
    const r = buildHealthReport({
      keys,
      state,
      results,
      now,
      currentLabel: 'cur',
      includeWarn: false,
      rotateOnTie: true,
    });
    const table = healthTable(r.rows, { now, timezone: 'UTC', locale: 'en' });
    expect(table.columns).toHaveLength(11);
    expect(table.cells[0]?.slice(0, 2)).toEqual(['CURRENT', 'cur']);
    expect(table.cells[1]?.[0]).toBe('NEXT');
    expect(table.cells[0]?.[7]).toBe('2026-01-05 14:10 +0000 (in 2h 10m)');
    expect(table.cells[1]?.[10]).toBe('5m ago');
    const withSource = healthTable(r.rows, {
      now,
      timezone: '+03:00',
      locale: 'ru',
      showSource: true,
    });
    expect(withSource.columns).toHaveLength(12);
    expect(withSource.cells[0]?.[4]).toBe('исправен');
    expect(withSource.cells[0]?.[7]).toBe('2026-01-05 17:10 +0300 (через 2 ч 10 мин)');
    for (const row of table.cells) expect(row.join(' ')).not.toContain('xxxxxxxx');
    const json = healthRowJson(r.rows[0] as (typeof r.rows)[number], 'en');
    expect(json).toMatchObject({
      label: 'cur',
      status: 'healthy',
      current: true,
      five_hour_reset_at: '2026-01-05T14:10:00Z',
    });
    expect(JSON.stringify(json)).not.toContain('xxxxxxxx');
  });
});
