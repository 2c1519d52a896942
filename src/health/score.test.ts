import { describe, expect, it } from 'vitest';
import { manualClock } from '../clock.js';
import {
  emptyKeyState,
  formatUtc,
  type KeyState,
  type UsageSnapshot,
  type UsageWindow,
} from '../state/schema.js';
import { t } from '../ui/i18n/index.js';
import { classifyKeyHealth, errorRateOf } from './score.js';
import type { UsageResult } from './usage-client.js';

const clock = manualClock(Date.UTC(2026, 0, 5, 12, 0, 0));
const now = clock.now();
const H = 3_600_000;

function win(remainingPct: number, resetInH = 2): UsageWindow {
  return {
    limit: 100,
    used: 100 - remainingPct,
    remaining: remainingPct,
    remainingRatio: remainingPct / 100,
    resetAt: formatUtc(now + resetInH * H),
  };
}
const snap = (five: number | null, weekly: number | null): UsageSnapshot => ({
  fiveHour: five === null ? null : win(five, 2),
  weekly: weekly === null ? null : win(weekly, 72),
});
const ok = (five: number | null, weekly: number | null): UsageResult => ({
  ok: true,
  snapshot: snap(five, weekly),
});
const fail = (kind: Extract<UsageResult, { ok: false }>['kind'], status?: number): UsageResult =>
  status === undefined
    ? { ok: false, kind, detail: 'x' }
    : { ok: false, kind, status, detail: 'x' };
const ks = (over: Partial<KeyState> = {}): KeyState => ({ ...emptyKeyState(), ...over });
const enabled = { disabled: false };

describe('classifyKeyHealth: the SPEC §5 table', () => {
  it.each([
    // [case, usage, state, expected status, expected reason]
    ['plenty in both windows', ok(90, 80), ks(), 'healthy', 'health.reason.ok'],
    ['exactly 20 % is still healthy', ok(20, 20), ks(), 'healthy', 'health.reason.ok'],
    [
      '5-hour window below 20 % (the Python tool missed this)',
      ok(19, 90),
      ks(),
      'warn',
      'health.reason.lowRemaining',
    ],
    ['weekly window below 20 %', ok(90, 5), ks(), 'warn', 'health.reason.lowRemaining'],
    [
      'error rate 5 % is warn',
      ok(90, 90),
      ks({ request_count: 100, error_5xx: 5 }),
      'warn',
      'health.reason.errorRate',
    ],
    [
      'error rate 4 % is healthy',
      ok(90, 90),
      ks({ request_count: 100, error_429: 4 }),
      'healthy',
      'health.reason.ok',
    ],
    ['usage check: network', fail('network'), ks(), 'warn', 'health.reason.checkFailed'],
    ['usage check: 5xx', fail('server', 502), ks(), 'warn', 'health.reason.checkFailed'],
    ['usage check: timeout', fail('timeout'), ks(), 'warn', 'health.reason.checkFailed'],
    [
      'usage check: bad payload',
      fail('bad_payload', 200),
      ks(),
      'warn',
      'health.reason.checkFailed',
    ],
    ['5-hour window at 0', ok(0, 90), ks(), 'exhausted', 'health.reason.windowExhausted'],
    ['weekly window at 0', ok(50, 0), ks(), 'exhausted', 'health.reason.windowExhausted'],
    ['403 quota', fail('quota', 403), ks(), 'exhausted', 'health.reason.quota'],
    ['429', fail('rate', 429), ks(), 'exhausted', 'health.reason.rateLimited'],
    [
      'cooldown in the future',
      ok(90, 90),
      ks({ exhausted_until: formatUtc(now + 60_000) }),
      'exhausted',
      'health.reason.cooldown',
    ],
    [
      'cooldown in the past',
      ok(90, 90),
      ks({ exhausted_until: formatUtc(now - 60_000) }),
      'healthy',
      'health.reason.ok',
    ],
    ['401', fail('auth', 401), ks(), 'blocked', 'health.reason.auth'],
    ['402', fail('payment', 402), ks(), 'blocked', 'health.reason.payment'],
    [
      'payment block in force',
      ok(90, 90),
      ks({ blocked_reason: 'payment', blocked_until: formatUtc(now + H) }),
      'blocked',
      'health.reason.blockedPayment',
    ],
    [
      'payment block ended',
      ok(90, 90),
      ks({ blocked_reason: 'payment', blocked_until: formatUtc(now - H) }),
      'healthy',
      'health.reason.ok',
    ],
    [
      'auth block, check failed',
      fail('network'),
      ks({ blocked_reason: 'auth' }),
      'blocked',
      'health.reason.blockedAuth',
    ],
    [
      'auth block, check now succeeds',
      ok(90, 90),
      ks({ blocked_reason: 'auth' }),
      'healthy',
      'health.reason.ok',
    ],
    [
      'manual block',
      ok(90, 90),
      ks({ blocked_reason: 'manual' }),
      'blocked',
      'health.reason.blockedManual',
    ],
    [
      'other block reason',
      null,
      ks({ blocked_reason: 'weird' }),
      'blocked',
      'health.reason.blocked',
    ],
    ['nothing known at all', ok(null, null), ks(), 'healthy', 'health.reason.okUnknown'],
  ] as const)('%s → %s', (_name, usage, state, status, reason) => {
    const h = classifyKeyHealth({ key: enabled, keyState: state, usage, now });
    expect(h.status).toBe(status);
    expect(h.reason).toBe(reason);
    // Every reason renders in both locales without leftover placeholders.
    for (const locale of ['en', 'ru'] as const) {
      expect(t(h.reason, h.reasonParams, locale)).not.toMatch(/\{\w+\}|health\./);
    }
  });

  it('disabled in its auth file wins over everything', () => {
    const h = classifyKeyHealth({
      key: { disabled: true },
      keyState: ks(),
      usage: ok(90, 90),
      now,
    });
    expect(h).toMatchObject({ status: 'blocked', reason: 'health.reason.disabled' });
  });

  it('blocked outranks exhausted outranks warn', () => {
    expect(
      classifyKeyHealth({
        key: enabled,
        keyState: ks({ blocked_reason: 'auth' }),
        usage: ok(0, 0),
        now,
      }).status,
    ).toBe('exhausted');
    expect(
      classifyKeyHealth({
        key: enabled,
        keyState: ks({ blocked_reason: 'manual' }),
        usage: ok(0, 0),
        now,
      }).status,
    ).toBe('blocked');
    expect(
      classifyKeyHealth({
        key: enabled,
        keyState: ks({ request_count: 10, error_5xx: 10 }),
        usage: ok(0, 90),
        now,
      }).status,
    ).toBe('exhausted');
  });

  it('reports remaining percentages and the reset of the tighter window', () => {
    const h = classifyKeyHealth({ key: enabled, keyState: ks(), usage: ok(30, 60), now });
    expect(h.fiveHourRemainingPct).toBe(30);
    expect(h.weeklyRemainingPct).toBe(60);
    expect(h.fiveHourResetAt).toBe(now + 2 * H);
    expect(h.weeklyResetAt).toBe(now + 72 * H);
    expect(h.resetAt).toBe(now + 2 * H);
    const w = classifyKeyHealth({ key: enabled, keyState: ks(), usage: ok(90, 10), now });
    expect(w.resetAt).toBe(now + 72 * H);
  });

  it('an exhausted key resets when both the window and the cooldown are over', () => {
    const h = classifyKeyHealth({
      key: enabled,
      keyState: ks({ exhausted_until: formatUtc(now + 5 * H) }),
      usage: ok(0, 50),
      now,
    });
    expect(h.resetAt).toBe(now + 5 * H);
    const c = classifyKeyHealth({
      key: enabled,
      keyState: ks({ exhausted_until: formatUtc(now + 60_000) }),
      usage: ok(90, 90),
      now,
    });
    expect(c.resetAt).toBe(now + 60_000);
  });

  it('a payment block reports its end', () => {
    const until = now + H;
    const h = classifyKeyHealth({
      key: enabled,
      keyState: ks({ blocked_reason: 'payment', blocked_until: formatUtc(until) }),
      usage: null,
      now,
    });
    expect(h.resetAt).toBe(until);
  });

  it('falls back to the stored snapshot, ignoring windows that have reset since', () => {
    const stored: UsageSnapshot = {
      fiveHour: { ...win(0), resetAt: formatUtc(now - 60_000) },
      weekly: win(50, 24),
    };
    const h = classifyKeyHealth({
      key: enabled,
      keyState: ks({ last_usage: stored }),
      usage: null,
      now,
    });
    expect(h.usageSource).toBe('state');
    expect(h.fiveHourRemainingPct).toBeNull();
    expect(h.weeklyRemainingPct).toBe(50);
    expect(h.status).toBe('healthy');
    const fresh = classifyKeyHealth({
      key: enabled,
      keyState: ks({ last_usage: stored }),
      usage: ok(80, 80),
      now,
    });
    expect(fresh.usageSource).toBe('check');
  });

  it('a failed check still shows the stored numbers, and says the check failed', () => {
    const h = classifyKeyHealth({
      key: enabled,
      keyState: ks({ last_usage: snap(70, 70) }),
      usage: fail('timeout'),
      now,
    });
    expect(h.status).toBe('warn');
    expect(h.fiveHourRemainingPct).toBe(70);
    expect(h.checkFailure).toEqual({ kind: 'timeout', detail: 'x' });
  });

  it('accepts a bare snapshot and marks synthetic usage', () => {
    const h = classifyKeyHealth({ key: enabled, usage: { ...snap(50, 50), synthetic: true }, now });
    expect(h.synthetic).toBe(true);
    expect(h.status).toBe('healthy');
  });

  it('an explicit errorRate overrides the counters', () => {
    expect(
      classifyKeyHealth({ key: enabled, keyState: ks(), usage: ok(90, 90), now, errorRate: 0.5 })
        .status,
    ).toBe('warn');
    expect(
      classifyKeyHealth({
        key: enabled,
        keyState: ks({ request_count: 2, error_5xx: 2 }),
        usage: ok(90, 90),
        now,
        errorRate: 0,
      }).status,
    ).toBe('healthy');
  });

  it('remaining known only as a count ≤ 0 is exhausted', () => {
    const s: UsageSnapshot = {
      fiveHour: { limit: null, used: null, remaining: 0, remainingRatio: null, resetAt: null },
      weekly: null,
    };
    expect(classifyKeyHealth({ key: enabled, usage: s, now }).status).toBe('exhausted');
  });
});

describe('errorRateOf', () => {
  it('is errors / requests, null without requests', () => {
    expect(errorRateOf(ks())).toBeNull();
    expect(errorRateOf(null)).toBeNull();
    expect(
      errorRateOf(
        ks({ request_count: 200, error_401: 1, error_403: 2, error_429: 3, error_5xx: 4 }),
      ),
    ).toBe(0.05);
    expect(errorRateOf(ks({ request_count: 1, error_5xx: 9 }))).toBe(1);
  });
});
