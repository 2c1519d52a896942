// The state.json shape (field names as in the Python tool) and the helpers that keep it well-formed.

export const STATE_SCHEMA_VERSION = 1;

export type BlockReason = 'auth' | 'payment' | 'manual' | 'disabled' | string;

/** One window of a usage snapshot; every field may be unknown. */
export interface UsageWindow {
  readonly limit: number | null;
  readonly used: number | null;
  readonly remaining: number | null;
  /** Remaining fraction 0..1, or null when unknown. */
  readonly remainingRatio: number | null;
  /** Reset time as UTC ISO `YYYY-MM-DDTHH:MM:SSZ`, or null. */
  readonly resetAt: string | null;
}

export interface UsageSnapshot {
  readonly fiveHour: UsageWindow | null;
  readonly weekly: UsageWindow | null;
  /** True when the numbers were synthesised in dry-run. */
  readonly synthetic?: boolean;
}

export interface KeyState {
  last_used: string | null;
  request_count: number;
  error_401: number;
  error_403: number;
  error_429: number;
  error_5xx: number;
  exhausted_until: string | null;
  blocked_until: string | null;
  blocked_reason: BlockReason | null;
  /** kmi additions */
  blocked_at?: string | null;
  consecutive_failures?: number;
  last_usage?: UsageSnapshot | null;
  last_usage_at?: string | null;
  last_checked_at?: string | null;
  last_error?: string | null;
  [extra: string]: unknown;
}

export interface State {
  schema_version: number;
  active_index: number;
  /** kmi addition: the active key by label, so adding a file does not re-point it. */
  active_label?: string | null;
  rotation_index: number;
  auto_rotate: boolean;
  last_health_refresh: string | null;
  keys: Record<string, KeyState>;
  [extra: string]: unknown;
}

export function emptyKeyState(): KeyState {
  return {
    last_used: null,
    request_count: 0,
    error_401: 0,
    error_403: 0,
    error_429: 0,
    error_5xx: 0,
    exhausted_until: null,
    blocked_until: null,
    blocked_reason: null,
  };
}

export function emptyState(): State {
  return {
    schema_version: STATE_SCHEMA_VERSION,
    active_index: 0,
    rotation_index: 0,
    auto_rotate: false,
    last_health_refresh: null,
    keys: {},
  };
}

/** UTC time as `YYYY-MM-DDTHH:MM:SSZ`, the format of every time in state.json. */
export function formatUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Parse a state time; null for missing or malformed values. */
export function parseUtc(value: unknown): number | null {
  if (typeof value !== 'string' || value === '') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}
