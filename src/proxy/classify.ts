// classifyUpstreamResponse: the SPEC §7.3 table — what an upstream answer means for the key and for the client.
import type { IncomingHttpHeaders } from 'node:http';

export type UpstreamOutcome =
  /** 1xx–3xx: counted as success, passed through. */
  | { readonly kind: 'success' }
  /** 400/404/413/422 and other 4xx: the client's fault; passed through, key not blamed. */
  | { readonly kind: 'client_error' }
  /** 403 without quota or payment text: error counted, passed through. */
  | { readonly kind: 'forbidden' }
  /** 401: block the key (reason `auth`), fail over. */
  | { readonly kind: 'auth' }
  /** 402, or a payment phrase in a 400/403: block (reason `payment`), fail over. */
  | { readonly kind: 'payment' }
  /** 403 with quota text: exhausted until `resetAtMs` (or the cooldown), fail over. */
  | { readonly kind: 'quota'; readonly resetAtMs: number | null }
  /** 429: exhausted for Retry-After (capped by the caller) or the cooldown, fail over. */
  | { readonly kind: 'rate_limited'; readonly retryAfterMs: number | null }
  /** 5xx: error counted, retry the same key, then fail over. */
  | { readonly kind: 'server_error' };

const SUCCESS: UpstreamOutcome = { kind: 'success' };
const CLIENT_ERROR: UpstreamOutcome = { kind: 'client_error' };
const FORBIDDEN: UpstreamOutcome = { kind: 'forbidden' };
const AUTH: UpstreamOutcome = { kind: 'auth' };
const PAYMENT: UpstreamOutcome = { kind: 'payment' };
const SERVER_ERROR: UpstreamOutcome = { kind: 'server_error' };

/** Statuses whose body must be read (bounded) to classify them. */
export function needsBodyForClassification(status: number): boolean {
  return status === 400 || status === 403;
}

/** The most of an error body read for classification; the same bytes are then passed on. */
export const CLASSIFY_BODY_LIMIT = 64 * 1024;

// Whole words only: "plan" inside "explanation" or "billing" inside "rebilling" never match.
// `_` and `-` count as spaces so codes such as `insufficient_balance` match too.
const PAYMENT_PHRASES =
  /(?<![\p{L}\p{N}])(?:payment[ _-]+required|insufficient[ _-]+(?:balance|funds|credit)|membership[ _-]+(?:has[ _-]+)?expired|billing|recharge|arrears|overdue[ _-]+payment)(?![\p{L}\p{N}])|欠费|余额不足/iu;
const QUOTA_PHRASES =
  /(?<![\p{L}\p{N}])(?:usage[ _-]+limit|quota|rate[ _-]+limit[ _-]+exceeded)(?![\p{L}\p{N}])|额度|用量上限/iu;

/** True when `text` carries a payment phrase as whole words. */
export function mentionsPayment(text: string): boolean {
  return PAYMENT_PHRASES.test(text);
}

/** True when `text` carries a quota phrase as whole words. */
export function mentionsQuota(text: string): boolean {
  return QUOTA_PHRASES.test(text);
}

/**
 * Classify one upstream answer. `bodyText` is the (bounded, decoded) error body for 400/403, or
 * null when it was not read. `nowMs` turns HTTP dates and reset times into durations.
 */
export function classifyUpstreamResponse(
  status: number,
  headers: IncomingHttpHeaders,
  bodyText: string | null,
  nowMs: number = Date.now(),
): UpstreamOutcome {
  if (status < 400) return SUCCESS;
  if (status >= 500) return SERVER_ERROR;
  switch (status) {
    case 401:
      return AUTH;
    case 402:
      return PAYMENT;
    case 429:
      return {
        kind: 'rate_limited',
        retryAfterMs: parseRetryAfter(headerValue(headers, 'retry-after'), nowMs),
      };
    case 400:
      return bodyText !== null && mentionsPayment(bodyText) ? PAYMENT : CLIENT_ERROR;
    case 403:
      if (bodyText !== null && mentionsPayment(bodyText)) return PAYMENT;
      if (bodyText !== null && mentionsQuota(bodyText)) {
        return { kind: 'quota', resetAtMs: parseResetTime(headers, bodyText, nowMs) };
      }
      return FORBIDDEN;
    default:
      return CLIENT_ERROR;
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (!/[a-z]/i.test(v)) return null;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

const MAX_RESET_AHEAD_MS = 8 * 24 * 3_600_000;
const RESET_FIELD =
  /"(?:resetTime|reset_time|resetAt|reset_at|resets_at|resetsAt)"\s*:\s*(?:"([^"]{1,64})"|(\d{9,13}))/;

/**
 * The quota window's reset time from a 403 answer: a reset field in the body (ISO string or epoch
 * seconds/milliseconds), else Retry-After. Only future times within 8 days count.
 */
export function parseResetTime(
  headers: IncomingHttpHeaders,
  bodyText: string,
  nowMs: number,
): number | null {
  let at: number | null = null;
  const m = RESET_FIELD.exec(bodyText);
  if (m) {
    if (m[1] !== undefined) {
      const s = m[1];
      at = /^\d{9,13}$/.test(s) ? epoch(Number(s)) : Date.parse(s);
    } else if (m[2] !== undefined) at = epoch(Number(m[2]));
  }
  if (at === null || Number.isNaN(at)) {
    const ra = parseRetryAfter(headerValue(headers, 'retry-after'), nowMs);
    at = ra === null ? null : nowMs + ra;
  }
  if (at === null || Number.isNaN(at) || at <= nowMs || at - nowMs > MAX_RESET_AHEAD_MS)
    return null;
  return at;
}

function epoch(n: number): number {
  return n < 1e11 ? n * 1000 : n;
}
