// Parse a Kimi `/usages` reply (both shapes seen in the wild) into a UsageSnapshot; unknown fields degrade to null, never throw.
import { maskSecretsInText } from '../auth/mask.js';
import { formatUtc, type UsageSnapshot, type UsageWindow } from '../state/schema.js';

export type ParsedUsage =
  | { readonly ok: true; readonly snapshot: UsageSnapshot }
  | { readonly ok: false; readonly detail: string };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Mask anything that looks like an API key or bearer token. */
export const maskSecrets = maskSecretsInText;

/** A short, single-line, secret-free excerpt of a body for error details. */
export function excerpt(text: string, max = 80): string {
  const flat = maskSecrets(text).replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** A finite number from a number or a numeric string ("12", " 3.5 "); anything else → null. */
export function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/**
 * A reset time as UTC `YYYY-MM-DDTHH:MM:SSZ`: ISO strings, or epoch seconds / milliseconds as
 * numbers or digit strings. Anything else → null.
 */
export function toResetAt(value: unknown): string | null {
  const n = toNumber(value);
  if (n !== null) {
    if (n <= 0) return null;
    // Below 1e11 it can only be seconds (1e11 s is the year 5138; 1e11 ms is 1973).
    const ms = n < 1e11 ? n * 1000 : n;
    return Number.isFinite(ms) && ms < 8.64e15 ? formatUtc(ms) : null;
  }
  if (typeof value !== 'string' || value.trim() === '') return null;
  let text = value.trim();
  // A date-time without offset is read as UTC, as servers mean it (not the machine's zone).
  if (/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text))
    text = `${text.replace(' ', 'T')}Z`;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : formatUtc(ms);
}

function firstOf(obj: Json, names: readonly string[]): unknown {
  for (const name of names) if (obj[name] !== undefined && obj[name] !== null) return obj[name];
  return undefined;
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * One window from `{limit, used, remaining, resetTime}` and/or `{used_ratio, reset_time}`. Missing
 * numbers are derived from the others where possible. Null when nothing at all is known.
 */
export function parseWindow(raw: unknown): UsageWindow | null {
  if (!isObject(raw)) return null;
  let limit = toNumber(firstOf(raw, ['limit', 'total', 'quota']));
  let used = toNumber(firstOf(raw, ['used', 'usage', 'consumed']));
  let remaining = toNumber(firstOf(raw, ['remaining', 'left', 'available']));
  if (limit !== null && limit < 0) limit = null;
  if (limit !== null && used === null && remaining !== null) used = limit - remaining;
  if (limit !== null && remaining === null && used !== null) remaining = limit - used;
  if (limit === null && used !== null && remaining !== null && used + remaining > 0)
    limit = used + remaining;

  let remainingRatio: number | null = null;
  if (limit !== null && limit > 0 && remaining !== null)
    remainingRatio = clamp01(remaining / limit);
  else if (limit === 0) remainingRatio = 0;
  if (remainingRatio === null) {
    const usedRatio = toNumber(firstOf(raw, ['used_ratio', 'usedRatio', 'usage_ratio']));
    const remRatio = toNumber(firstOf(raw, ['remaining_ratio', 'remainingRatio']));
    if (usedRatio !== null) remainingRatio = clamp01(1 - usedRatio);
    else if (remRatio !== null) remainingRatio = clamp01(remRatio);
  }
  const resetAt = toResetAt(
    firstOf(raw, ['resetTime', 'reset_time', 'resetAt', 'reset_at', 'resetsAt', 'resets_at']),
  );
  if (
    limit === null &&
    used === null &&
    remaining === null &&
    remainingRatio === null &&
    resetAt === null
  )
    return null;
  return { limit, used, remaining, remainingRatio, resetAt };
}

const UNIT_MINUTES: ReadonlyArray<readonly [RegExp, number]> = [
  [/SECOND/i, 1 / 60],
  [/MINUTE/i, 1],
  [/HOUR/i, 60],
  [/DAY/i, 1440],
  [/WEEK/i, 10080],
];

/** Length of a `window: {duration, timeUnit}` in minutes, or null when unreadable. */
export function windowMinutes(window: unknown): number | null {
  if (!isObject(window)) return null;
  const duration = toNumber(window.duration);
  const unit = firstOf(window, ['timeUnit', 'time_unit', 'unit']);
  if (duration === null || typeof unit !== 'string') return null;
  const found = UNIT_MINUTES.find(([re]) => re.test(unit));
  return found ? duration * found[1] : null;
}

const FIVE_HOURS_MIN = 300;

/** Which window an entry name of the `usages` map means: `limit_5h` → 5h, `limit_7d` → weekly. */
function windowKind(name: string): 'fiveHour' | 'weekly' | null {
  const n = name.toLowerCase();
  if (/(^|[^0-9])5h|five_?hours?|300m/.test(n)) return 'fiveHour';
  if (/(^|[^0-9])7d|week/.test(n)) return 'weekly';
  return null;
}

interface Windows {
  fiveHour: UsageWindow | null;
  weekly: UsageWindow | null;
}

function fromShapeA(body: Json, out: Windows): void {
  if (out.weekly === null) out.weekly = parseWindow(body.usage);
  if (!Array.isArray(body.limits)) return;
  for (const entry of body.limits) {
    if (!isObject(entry) || out.fiveHour !== null) continue;
    if (windowMinutes(entry.window) !== FIVE_HOURS_MIN) continue;
    out.fiveHour = parseWindow(isObject(entry.detail) ? entry.detail : entry);
  }
}

function fromShapeB(body: Json, out: Windows): void {
  const usages = body.usages;
  const entries: Array<[string, unknown]> = [];
  if (isObject(usages)) {
    entries.push(...Object.entries(usages));
  } else if (Array.isArray(usages)) {
    for (const item of usages) {
      if (!isObject(item)) continue;
      const name = firstOf(item, ['name', 'scope', 'type', 'key', 'window']);
      if (typeof name === 'string') entries.push([name, item]);
    }
  }
  for (const [name, value] of entries) {
    const kind = windowKind(name);
    if (kind !== null && out[kind] === null) out[kind] = parseWindow(value);
  }
}

/** Interpret a decoded JSON body. Objects never fail (unknown windows are null); lists, strings, numbers and null do. */
export function parseUsageBody(body: unknown): ParsedUsage {
  if (!isObject(body)) {
    const text = body === undefined ? 'undefined' : JSON.stringify(body);
    return { ok: false, detail: `expected a JSON object, got ${kindOf(body)}: ${excerpt(text)}` };
  }
  const out: Windows = { fiveHour: null, weekly: null };
  // Some gateways wrap the payload in `data`.
  for (const candidate of [body, isObject(body.data) ? body.data : null]) {
    if (candidate === null) continue;
    fromShapeA(candidate, out);
    fromShapeB(candidate, out);
  }
  return { ok: true, snapshot: { fiveHour: out.fiveHour, weekly: out.weekly } };
}

/** Decode and interpret a raw body text. Non-JSON text is a bad payload with a masked excerpt. */
export function parseUsageText(text: string): ParsedUsage {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, detail: `not JSON: ${excerpt(text) || '(empty body)'}` };
  }
  return parseUsageBody(body);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}
