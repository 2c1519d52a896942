// KeyRuntime: one key's state as plain numbers for the request path (no date parsing per request).
import { WARN_REMAINING_RATIO } from '../health/score.js';
import { parseUtc, type KeyState, type UsageSnapshot, type UsageWindow } from '../state/schema.js';

export type UsageWindowName = 'fiveHour' | 'weekly';

export interface KeyRuntime {
  readonly label: string;
  /** Not blocked: 0. Blocked until cleared (no or unreadable blocked_until): Infinity. */
  blockedUntilMs: number;
  blockedReason: string | null;
  /** 0 when not in cooldown. */
  exhaustedUntilMs: number;
  consecutiveFailures: number;
  /** Last successful /usages check; 0 when never. */
  lastUsageAtMs: number;
  /** The snapshot of that check (shared, never changed), or null. */
  usage: UsageSnapshot | null;
  /** A usage window is used up (remaining ≤ 0): the key rests until that window resets; 0 when none. */
  usageEmptyUntilMs: number;
  /** Which window is used up (the one that resets last), or null. */
  usageEmptyWindow: UsageWindowName | null;
  /** A window is nearly used up (< 20 % left, `warn`): the key is taken last until it resets; 0 when none. */
  usageLowUntilMs: number;
  requestCount: number;
  error401: number;
  error403: number;
  error429: number;
  error5xx: number;
  /** 0 when never used. */
  lastUsedMs: number;
}

/** Until when a snapshot keeps a key out (used-up window) or last in line (nearly used-up window). */
export interface UsageLimits {
  readonly emptyUntilMs: number;
  readonly emptyWindow: UsageWindowName | null;
  readonly lowUntilMs: number;
}

const NO_LIMITS: UsageLimits = { emptyUntilMs: 0, emptyWindow: null, lowUntilMs: 0 };

/** Remaining fraction of a window, or null when unknown (a bare `remaining ≤ 0` counts as 0). */
function remainingRatio(w: UsageWindow | null | undefined): number | null {
  if (!w) return null;
  if (typeof w.remainingRatio === 'number' && Number.isFinite(w.remainingRatio))
    return w.remainingRatio;
  if (typeof w.remaining === 'number' && w.remaining <= 0) return 0;
  return null;
}

/**
 * What a usage snapshot taken at `checkedAtMs` means for selection. A window ends at its reset time;
 * when the reset time is unknown, the finding holds for `fallbackMs` after the check (the next
 * refresh normally replaces it sooner).
 */
export function usageLimits(
  snapshot: UsageSnapshot | null | undefined,
  checkedAtMs: number,
  fallbackMs: number,
): UsageLimits {
  if (!snapshot) return NO_LIMITS;
  let emptyUntilMs = 0;
  let emptyWindow: UsageWindowName | null = null;
  let lowUntilMs = 0;
  for (const name of ['fiveHour', 'weekly'] as const) {
    const w = snapshot[name];
    const ratio = remainingRatio(w);
    if (ratio === null) continue;
    const until = parseUtc(w?.resetAt) ?? checkedAtMs + fallbackMs;
    if (ratio <= 0) {
      if (until > emptyUntilMs) {
        emptyUntilMs = until;
        emptyWindow = name;
      }
    } else if (ratio < WARN_REMAINING_RATIO) {
      lowUntilMs = Math.max(lowUntilMs, until);
    }
  }
  return emptyWindow === null && lowUntilMs === 0
    ? NO_LIMITS
    : { emptyUntilMs, emptyWindow, lowUntilMs };
}

/** Set the usage fields of `rt` from a successful check. */
export function applyUsage(
  rt: KeyRuntime,
  snapshot: UsageSnapshot | null,
  checkedAtMs: number,
  fallbackMs: number,
): void {
  const limits = usageLimits(snapshot, checkedAtMs, fallbackMs);
  rt.lastUsageAtMs = checkedAtMs;
  rt.usage = snapshot;
  rt.usageEmptyUntilMs = limits.emptyUntilMs;
  rt.usageEmptyWindow = limits.emptyWindow;
  rt.usageLowUntilMs = limits.lowUntilMs;
}

/** Default for a used-up window without a known reset time: KMI_ROTATION_COOLDOWN_SECONDS' default. */
export const DEFAULT_USAGE_FALLBACK_MS = 300_000;

/** Derive a key's runtime view from its state entry (absent → a fresh key). */
export function runtimeFromState(
  label: string,
  ks: KeyState | undefined,
  usageFallbackMs = DEFAULT_USAGE_FALLBACK_MS,
): KeyRuntime {
  let blockedUntilMs = 0;
  if (ks && (ks.blocked_reason != null || ks.blocked_until != null)) {
    const until =
      typeof ks.blocked_until === 'string' && ks.blocked_until !== ''
        ? parseUtc(ks.blocked_until)
        : null;
    blockedUntilMs = until ?? Number.POSITIVE_INFINITY;
  }
  const rt: KeyRuntime = {
    label,
    blockedUntilMs,
    blockedReason: ks?.blocked_reason ?? null,
    exhaustedUntilMs: parseUtc(ks?.exhausted_until) ?? 0,
    consecutiveFailures: typeof ks?.consecutive_failures === 'number' ? ks.consecutive_failures : 0,
    lastUsageAtMs: 0,
    usage: null,
    usageEmptyUntilMs: 0,
    usageEmptyWindow: null,
    usageLowUntilMs: 0,
    requestCount: ks?.request_count ?? 0,
    error401: ks?.error_401 ?? 0,
    error403: ks?.error_403 ?? 0,
    error429: ks?.error_429 ?? 0,
    error5xx: ks?.error_5xx ?? 0,
    lastUsedMs: parseUtc(ks?.last_used) ?? 0,
  };
  const checkedAt = parseUtc(ks?.last_usage_at);
  if (checkedAt !== null) applyUsage(rt, ks?.last_usage ?? null, checkedAt, usageFallbackMs);
  return rt;
}
