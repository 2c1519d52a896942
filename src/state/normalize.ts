// normalizeState: turn whatever JSON is in state.json into a well-formed State, keeping unknown fields.
import {
  STATE_SCHEMA_VERSION,
  emptyKeyState,
  type KeyState,
  type State,
  type UsageSnapshot,
  type UsageWindow,
} from './schema.js';

type Json = Record<string, unknown>;

export function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A whole number ≥ 0 from a number or a digit string (hand-edited files); anything else → fallback. */
function count(value: unknown, fallback = 0): number {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.max(0, Math.floor(value));
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  return fallback;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Own-property assignment that is safe even for a label like `__proto__`. */
function put(target: Json, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Copy of `raw` with its key order, so a file we did not change is written back byte-for-byte. */
function copyOwn(raw: Json): Json {
  const out: Json = {};
  for (const key of Object.keys(raw)) put(out, key, raw[key]);
  return out;
}

function normalizeWindow(raw: unknown): UsageWindow | null {
  if (!isPlainObject(raw)) return null;
  const out = copyOwn(raw);
  put(out, 'limit', numberOrNull(raw.limit));
  put(out, 'used', numberOrNull(raw.used));
  put(out, 'remaining', numberOrNull(raw.remaining));
  put(out, 'remainingRatio', numberOrNull(raw.remainingRatio));
  put(out, 'resetAt', stringOrNull(raw.resetAt));
  return out as unknown as UsageWindow;
}

export function normalizeUsageSnapshot(raw: unknown): UsageSnapshot | null {
  if (!isPlainObject(raw)) return null;
  const out = copyOwn(raw);
  put(out, 'fiveHour', normalizeWindow(raw.fiveHour));
  put(out, 'weekly', normalizeWindow(raw.weekly));
  if ('synthetic' in raw) put(out, 'synthetic', raw.synthetic === true);
  return out as unknown as UsageSnapshot;
}

const COUNT_FIELDS = ['request_count', 'error_401', 'error_403', 'error_429', 'error_5xx'] as const;
const NULLABLE_STRING_FIELDS = [
  'last_used',
  'exhausted_until',
  'blocked_until',
  'blocked_reason',
] as const;
/** kmi additions: only coerced when present, so Python-tool files are not grown by reading them. */
const OPTIONAL_STRING_FIELDS = [
  'blocked_at',
  'last_usage_at',
  'last_checked_at',
  'last_error',
] as const;

/** One key's state: known fields get their type (wrong types become defaults), unknown ones are kept. */
export function normalizeKeyState(raw: unknown): KeyState {
  if (!isPlainObject(raw)) return emptyKeyState();
  const out = copyOwn(raw);
  for (const field of COUNT_FIELDS) put(out, field, count(raw[field]));
  for (const field of NULLABLE_STRING_FIELDS) put(out, field, stringOrNull(raw[field]));
  for (const field of OPTIONAL_STRING_FIELDS) {
    if (field in raw) put(out, field, stringOrNull(raw[field]));
  }
  if ('consecutive_failures' in raw)
    put(out, 'consecutive_failures', count(raw.consecutive_failures));
  if ('last_usage' in raw) put(out, 'last_usage', normalizeUsageSnapshot(raw.last_usage));
  return out as KeyState;
}

/**
 * The whole state. Accepts files written by the Python tool (same field names) and by older or newer
 * kmi versions; never throws. A non-object input yields an empty state.
 */
export function normalizeState(raw: unknown): State {
  if (!isPlainObject(raw)) return normalizeState({});
  const out = copyOwn(raw);
  put(out, 'schema_version', count(raw.schema_version, STATE_SCHEMA_VERSION));
  put(out, 'active_index', count(raw.active_index));
  if ('active_label' in raw) put(out, 'active_label', stringOrNull(raw.active_label));
  put(out, 'rotation_index', count(raw.rotation_index));
  put(out, 'auto_rotate', raw.auto_rotate === true);
  put(out, 'last_health_refresh', stringOrNull(raw.last_health_refresh));
  const keys: Json = {};
  if (isPlainObject(raw.keys)) {
    for (const label of Object.keys(raw.keys)) put(keys, label, normalizeKeyState(raw.keys[label]));
  }
  put(out, 'keys', keys);
  return out as State;
}
