// Key selection: round-robin from a pointer (auto-rotate) or the active key first (manual), skipping keys that cannot serve.
import type { KeyRuntime } from './key-runtime.js';

export type SkipReason =
  | 'disabled'
  | 'upstream_not_allowed'
  | 'blocked'
  | 'exhausted'
  | 'rate_limited'
  | 'usage_unchecked'
  | 'upstream_error'
  | 'failover_limit';

/** Why one key did not serve a request; labels only, never keys. */
export interface Skip {
  readonly label: string;
  readonly reason: SkipReason;
  /** e.g. the block reason (`auth`, `payment`) or the upstream status that caused it. */
  readonly detail: string | null;
  /** When the key is expected to be usable again; null when unknown or never by itself. */
  readonly untilMs: number | null;
}

/** Reasons that pass by themselves with time: a pool made only of these answers 429 with Retry-After. */
export function isTemporary(reason: SkipReason): boolean {
  return reason === 'exhausted' || reason === 'rate_limited';
}

export interface AvailabilityPolicy {
  /** KMI_REQUIRE_USAGE_BEFORE_REQUEST: a successful /usages check fresher than this many ms is needed (0 = off). */
  readonly usageMaxAgeMs: number;
  /** KMI_FAIL_OPEN_ON_EMPTY_CACHE and the first refresh has not finished: let traffic through. */
  readonly usageFailOpen: boolean;
  /** The first refresh has not finished (with fail-open off, this is why keys are refused). */
  readonly firstRefreshPending?: boolean;
}

/** Skip details of a used-up usage window (constants: no allocation per request). */
export const USAGE_EMPTY_DETAIL = {
  fiveHour: '5-hour usage window used up',
  weekly: 'weekly usage window used up',
} as const;
const FIRST_REFRESH_PENDING = 'first-refresh-pending';

/** Why `rt` cannot serve now (per-key rate limits are checked by the caller), or null when it can. */
export function unavailability(
  rt: KeyRuntime,
  disabled: boolean,
  upstreamAllowed: boolean,
  nowMs: number,
  policy: AvailabilityPolicy,
): Skip | null {
  if (disabled) return { label: rt.label, reason: 'disabled', detail: null, untilMs: null };
  if (!upstreamAllowed)
    return { label: rt.label, reason: 'upstream_not_allowed', detail: null, untilMs: null };
  if (nowMs < rt.blockedUntilMs) {
    return {
      label: rt.label,
      reason: 'blocked',
      detail: rt.blockedReason,
      untilMs: Number.isFinite(rt.blockedUntilMs) ? rt.blockedUntilMs : null,
    };
  }
  if (nowMs < rt.exhaustedUntilMs) {
    return { label: rt.label, reason: 'exhausted', detail: null, untilMs: rt.exhaustedUntilMs };
  }
  if (nowMs < rt.usageEmptyUntilMs) {
    return {
      label: rt.label,
      reason: 'exhausted',
      detail: USAGE_EMPTY_DETAIL[rt.usageEmptyWindow ?? 'weekly'],
      untilMs: rt.usageEmptyUntilMs,
    };
  }
  if (policy.usageMaxAgeMs > 0 && !policy.usageFailOpen) {
    if (rt.lastUsageAtMs === 0 || nowMs - rt.lastUsageAtMs > policy.usageMaxAgeMs) {
      return {
        label: rt.label,
        reason: 'usage_unchecked',
        detail: policy.firstRefreshPending === true ? FIRST_REFRESH_PENDING : null,
        untilMs: null,
      };
    }
  }
  return null;
}

/** A key with a nearly used-up window (`warn`): taken only when no other key can serve. */
export function isLowOnUsage(rt: KeyRuntime, nowMs: number): boolean {
  return nowMs < rt.usageLowUntilMs;
}

/**
 * The first index at or after `start` (wrapping) for which `usable` says yes, or -1. Round-robin
 * passes the rotation pointer as `start` and moves it past the result; manual mode passes the
 * active key, so it is preferred and the keys after it are the failover order. With `low`, a usable
 * key for which `low` says yes is taken only when no other usable key is found (the first such key
 * from `start` then), in the same single pass.
 */
export function pickKey(
  count: number,
  start: number,
  usable: (index: number) => boolean,
  low?: (index: number) => boolean,
): number {
  if (count === 0) return -1;
  const first = ((start % count) + count) % count;
  let fallback = -1;
  for (let k = 0; k < count; k++) {
    const i = first + k < count ? first + k : first + k - count;
    if (!usable(i)) continue;
    if (low === undefined || !low(i)) return i;
    if (fallback < 0) fallback = i;
  }
  return fallback;
}

/** The active key's index: `active_label` when it names a key, else `active_index` when in range, else 0. */
export function resolveActiveIndex(
  labels: readonly string[],
  activeLabel: string | null | undefined,
  activeIndex: number,
): number {
  if (typeof activeLabel === 'string' && activeLabel !== '') {
    const i = labels.indexOf(activeLabel);
    if (i >= 0) return i;
  }
  return Number.isInteger(activeIndex) && activeIndex >= 0 && activeIndex < labels.length
    ? activeIndex
    : 0;
}

/** One line per key for error messages, e.g. `alpha: blocked (auth)`. */
export function describeSkip(skip: Skip): string {
  const until =
    skip.untilMs !== null
      ? ` until ${new Date(skip.untilMs).toISOString().replace(/\.\d{3}Z$/, 'Z')}`
      : '';
  switch (skip.reason) {
    case 'disabled':
      return `${skip.label}: disabled`;
    case 'upstream_not_allowed':
      return `${skip.label}: base_url not allowed by KMI_UPSTREAM_ALLOWLIST`;
    case 'blocked':
      return `${skip.label}: blocked${skip.detail ? ` (${skip.detail})` : ''}${until}`;
    case 'exhausted':
      if (skip.detail === USAGE_EMPTY_DETAIL.fiveHour || skip.detail === USAGE_EMPTY_DETAIL.weekly)
        return `${skip.label}: ${skip.detail}${until}`;
      return `${skip.label}: cooling down${skip.detail ? ` after ${skip.detail}` : ''}${until}`;
    case 'rate_limited':
      return `${skip.label}: over its per-key rate limit${until}`;
    case 'usage_unchecked':
      return skip.detail === FIRST_REFRESH_PENDING
        ? `${skip.label}: not checked yet, the first /usages refresh has not finished (KMI_REQUIRE_USAGE_BEFORE_REQUEST=1 and KMI_FAIL_OPEN_ON_EMPTY_CACHE=0)`
        : `${skip.label}: no recent successful /usages check (KMI_REQUIRE_USAGE_BEFORE_REQUEST=1)`;
    case 'upstream_error':
      return `${skip.label}: upstream error${skip.detail ? ` (${skip.detail})` : ''}`;
    case 'failover_limit':
      return `${skip.label}: not tried (KMI_PROXY_FAILOVER_MAX reached)`;
  }
}
