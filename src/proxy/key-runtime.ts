// KeyRuntime: one key's state as plain numbers for the request path (no date parsing per request).
import { parseUtc, type KeyState } from '../state/schema.js';

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
  requestCount: number;
  error401: number;
  error403: number;
  error429: number;
  error5xx: number;
  /** 0 when never used. */
  lastUsedMs: number;
}

/** Derive a key's runtime view from its state entry (absent → a fresh key). */
export function runtimeFromState(label: string, ks: KeyState | undefined): KeyRuntime {
  let blockedUntilMs = 0;
  if (ks && (ks.blocked_reason != null || ks.blocked_until != null)) {
    const until =
      typeof ks.blocked_until === 'string' && ks.blocked_until !== ''
        ? parseUtc(ks.blocked_until)
        : null;
    blockedUntilMs = until ?? Number.POSITIVE_INFINITY;
  }
  return {
    label,
    blockedUntilMs,
    blockedReason: ks?.blocked_reason ?? null,
    exhaustedUntilMs: parseUtc(ks?.exhausted_until) ?? 0,
    consecutiveFailures: typeof ks?.consecutive_failures === 'number' ? ks.consecutive_failures : 0,
    lastUsageAtMs: parseUtc(ks?.last_usage_at) ?? 0,
    requestCount: ks?.request_count ?? 0,
    error401: ks?.error_401 ?? 0,
    error403: ks?.error_403 ?? 0,
    error429: ks?.error_429 ?? 0,
    error5xx: ks?.error_5xx ?? 0,
    lastUsedMs: parseUtc(ks?.last_used) ?? 0,
  };
}
