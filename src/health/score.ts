// Health classification (pure): a key's status from its usage windows, state and error rate, per SPEC §5.
import type { KeyRecord } from '../auth/types.js';
import { isBlocked, isExhausted } from '../state/key-state.js';
import { parseUtc, type KeyState, type UsageSnapshot, type UsageWindow } from '../state/schema.js';
import { ref, type MessageKey, type Params } from '../ui/i18n/index.js';
import type { UsageFailureKind, UsageResult } from './usage-client.js';

export type HealthStatus = 'healthy' | 'warn' | 'exhausted' | 'blocked';

/** Worst last: the order statuses are listed in, and how bad each is. */
export const HEALTH_STATUSES: readonly HealthStatus[] = ['healthy', 'warn', 'exhausted', 'blocked'];

/** Remaining below this fraction of a window is `warn`. */
export const WARN_REMAINING_RATIO = 0.2;
/** Error rate at or above this is `warn`. */
export const WARN_ERROR_RATE = 0.05;

export interface KeyHealth {
  readonly status: HealthStatus;
  readonly reason: MessageKey;
  readonly reasonParams: Params;
  /** 0–100, or null when unknown. */
  readonly fiveHourRemainingPct: number | null;
  readonly weeklyRemainingPct: number | null;
  readonly fiveHourResetAt: number | null;
  readonly weeklyResetAt: number | null;
  /**
   * When it matters most (ms): for blocked/exhausted keys when they may serve again (null = unknown or
   * until rechecked); otherwise the reset of the tighter window.
   */
  readonly resetAt: number | null;
  /** errors / requests from state counters, or null with no requests. */
  readonly errorRate: number | null;
  /** Where the usage numbers came from: this check, the last stored check, or nowhere. */
  readonly usageSource: 'check' | 'state' | 'none';
  readonly synthetic: boolean;
  /** The failed check, when the usage check failed. */
  readonly checkFailure: {
    readonly kind: UsageFailureKind;
    readonly status?: number;
    readonly detail: string;
  } | null;
}

export interface ClassifyInput {
  readonly key: Pick<KeyRecord, 'disabled'>;
  readonly keyState?: KeyState | null;
  /** This check's result, or a snapshot; null → fall back to the state's `last_usage`. */
  readonly usage: UsageResult | UsageSnapshot | null;
  /** Milliseconds since the epoch (injected). */
  readonly now: number;
  /** Override the error rate; by default computed from the state counters. */
  readonly errorRate?: number | null;
}

/** errors / request_count from the state counters; null when no requests were counted. */
export function errorRateOf(ks: KeyState | null | undefined): number | null {
  if (!ks) return null;
  const requests = Number.isFinite(ks.request_count) ? ks.request_count : 0;
  if (requests <= 0) return null;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
  const errors = num(ks.error_401) + num(ks.error_403) + num(ks.error_429) + num(ks.error_5xx);
  return Math.min(1, errors / requests);
}

interface WindowView {
  readonly name: 'fiveHour' | 'weekly';
  readonly pct: number | null;
  readonly resetAt: number | null;
}

function viewWindow(
  name: 'fiveHour' | 'weekly',
  w: UsageWindow | null | undefined,
  now: number,
  stale: boolean,
): WindowView {
  if (!w) return { name, pct: null, resetAt: null };
  const resetAt = parseUtc(w.resetAt);
  // A stored snapshot says nothing about a window that has reset since.
  if (stale && resetAt !== null && resetAt <= now) return { name, pct: null, resetAt: null };
  let pct: number | null = null;
  if (typeof w.remainingRatio === 'number' && Number.isFinite(w.remainingRatio))
    pct = Math.min(100, Math.max(0, w.remainingRatio * 100));
  else if (typeof w.remaining === 'number' && w.remaining <= 0) pct = 0;
  return { name, pct, resetAt };
}

const windowRef = (name: 'fiveHour' | 'weekly') =>
  ref(name === 'fiveHour' ? 'health.window.fiveHour' : 'health.window.weekly');

const pctText = (pct: number) => `${Math.round(pct * 10) / 10}`;

function isSnapshot(u: UsageResult | UsageSnapshot): u is UsageSnapshot {
  return !('ok' in u);
}

const maxOf = (a: number | null, b: number | null) =>
  a === null ? b : b === null ? a : Math.max(a, b);

/** Classify one key. Pure: everything it needs is passed in. */
export function classifyKeyHealth(input: ClassifyInput): KeyHealth {
  const { key, now } = input;
  const ks = input.keyState ?? null;
  const usage = input.usage;

  let snapshot: UsageSnapshot | null = null;
  let usageSource: KeyHealth['usageSource'] = 'none';
  let failure: KeyHealth['checkFailure'] = null;
  let freshOk = false;
  if (usage !== null && isSnapshot(usage)) {
    snapshot = usage;
    usageSource = 'check';
    freshOk = true;
  } else if (usage !== null && usage.ok) {
    snapshot = usage.snapshot;
    usageSource = 'check';
    freshOk = true;
  } else if (usage !== null && !usage.ok) {
    failure =
      usage.status === undefined
        ? { kind: usage.kind, detail: usage.detail }
        : { kind: usage.kind, status: usage.status, detail: usage.detail };
  }
  if (snapshot === null && ks?.last_usage) {
    snapshot = ks.last_usage;
    usageSource = 'state';
  }
  const stale = usageSource === 'state';
  const five = viewWindow('fiveHour', snapshot?.fiveHour, now, stale);
  const weekly = viewWindow('weekly', snapshot?.weekly, now, stale);
  const windows = [five, weekly];
  const errorRate = input.errorRate !== undefined ? input.errorRate : errorRateOf(ks);

  const known = windows.filter((w) => w.pct !== null);
  const tighter =
    known.length === 0
      ? null
      : known.reduce((a, b) => ((b.pct as number) < (a.pct as number) ? b : a));
  const earliestReset =
    windows
      .map((w) => w.resetAt)
      .filter((r): r is number => r !== null)
      .sort((a, b) => a - b)[0] ?? null;

  const base = {
    fiveHourRemainingPct: five.pct,
    weeklyRemainingPct: weekly.pct,
    fiveHourResetAt: five.resetAt,
    weeklyResetAt: weekly.resetAt,
    errorRate,
    usageSource,
    synthetic: snapshot?.synthetic === true,
    checkFailure: failure,
  };
  const result = (
    status: HealthStatus,
    reason: MessageKey,
    reasonParams: Params,
    resetAt: number | null,
  ): KeyHealth => ({ status, reason, reasonParams, resetAt, ...base });

  // blocked
  if (key.disabled) return result('blocked', 'health.reason.disabled', {}, null);
  if (failure?.kind === 'auth') return result('blocked', 'health.reason.auth', {}, null);
  if (failure?.kind === 'payment') {
    return result('blocked', 'health.reason.payment', {}, ks ? parseUtc(ks.blocked_until) : null);
  }
  // A successful check proves a key blocked for `auth` works again; other blocks stand until they end.
  if (ks && isBlocked(ks, now) && !(freshOk && ks.blocked_reason === 'auth')) {
    const until = parseUtc(ks.blocked_until);
    const reason = ks.blocked_reason;
    if (reason === 'auth') return result('blocked', 'health.reason.blockedAuth', {}, until);
    if (reason === 'payment') return result('blocked', 'health.reason.blockedPayment', {}, until);
    if (reason === 'manual') return result('blocked', 'health.reason.blockedManual', {}, until);
    return result('blocked', 'health.reason.blocked', { reason: reason ?? '?' }, until);
  }

  // exhausted
  const cooldownUntil = ks && isExhausted(ks, now) ? parseUtc(ks.exhausted_until) : null;
  const empty = windows.filter((w) => w.pct !== null && w.pct <= 0);
  if (empty.length > 0) {
    const resetAt = maxOf(
      empty.reduce<number | null>((acc, w) => maxOf(acc, w.resetAt), null),
      cooldownUntil,
    );
    return result(
      'exhausted',
      'health.reason.windowExhausted',
      { window: windowRef((empty[0] as WindowView).name) },
      resetAt,
    );
  }
  if (failure?.kind === 'quota')
    return result('exhausted', 'health.reason.quota', {}, cooldownUntil);
  if (failure?.kind === 'rate')
    return result('exhausted', 'health.reason.rateLimited', {}, cooldownUntil);
  if (cooldownUntil !== null)
    return result('exhausted', 'health.reason.cooldown', {}, cooldownUntil);

  // warn
  const tighterReset = tighter?.resetAt ?? earliestReset;
  if (failure !== null) {
    return result(
      'warn',
      'health.reason.checkFailed',
      { kind: ref(`health.failure.${failure.kind}`) },
      tighterReset,
    );
  }
  if (tighter !== null && (tighter.pct as number) < WARN_REMAINING_RATIO * 100) {
    return result(
      'warn',
      'health.reason.lowRemaining',
      { window: windowRef(tighter.name), pct: pctText(tighter.pct as number) },
      tighterReset,
    );
  }
  if (errorRate !== null && errorRate >= WARN_ERROR_RATE) {
    return result(
      'warn',
      'health.reason.errorRate',
      { pct: pctText(errorRate * 100) },
      tighterReset,
    );
  }

  if (known.length === 0) return result('healthy', 'health.reason.okUnknown', {}, tighterReset);
  return result(
    'healthy',
    'health.reason.ok',
    { pct: pctText(tighter?.pct as number) },
    tighterReset,
  );
}

/** Whether `a` is worse than `b` (blocked > exhausted > warn > healthy). */
export function statusRank(status: HealthStatus): number {
  return HEALTH_STATUSES.indexOf(status);
}
