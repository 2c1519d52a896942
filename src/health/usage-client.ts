// The /usages client: one GET per key through undici, classified into a UsageResult; all keys at most 8 at a time.
import type { Dispatcher } from 'undici';
import { httpRequest } from './http-request.js';
import type { KeyRecord } from '../auth/types.js';
import { systemClock, type Clock } from '../clock.js';
import type { UsageSnapshot } from '../state/schema.js';
import { hasPaymentPhrase } from './payment-phrase.js';
import { syntheticUsage } from './synthetic.js';
import { excerpt, parseUsageText } from './usage-parse.js';

export type UsageFailureKind =
  'auth' | 'payment' | 'quota' | 'rate' | 'server' | 'network' | 'timeout' | 'bad_payload' | 'http';

export type UsageResult =
  | { readonly ok: true; readonly snapshot: UsageSnapshot }
  | {
      readonly ok: false;
      readonly kind: UsageFailureKind;
      readonly status?: number;
      /** Short and secret-free: keys are masked. */
      readonly detail: string;
    };

export const DEFAULT_USAGE_TIMEOUT_MS = 10_000;
export const USAGE_CONCURRENCY = 8;
/** Bodies larger than this are cut: a /usages reply is a few hundred bytes. */
const MAX_BODY_BYTES = 256 * 1024;

export interface FetchUsageOptions {
  /** Default upstream base (KMI_UPSTREAM_BASE_URL); a key's own baseUrl wins. */
  readonly baseUrl: string;
  /** Whole-request deadline (headers and body); default 10 s. */
  readonly timeoutMs?: number;
  readonly dispatcher?: Dispatcher;
}

export interface FetchAllUsagesOptions extends FetchUsageOptions {
  /** At most this many requests in flight (default 8). */
  readonly concurrency?: number;
  /** Dry-run: no network, a deterministic synthetic snapshot per key. */
  readonly dryRun?: boolean;
  readonly clock?: Clock;
}

/** The /usages URL for a key: `{key.baseUrl ?? baseUrl}/usages`. */
export function usagesUrl(key: Pick<KeyRecord, 'baseUrl'>, baseUrl: string): string {
  return `${(key.baseUrl ?? baseUrl).replace(/\/+$/, '')}/usages`;
}

function scrub(text: string, key: KeyRecord): string {
  return key.apiKey.length > 0 ? text.split(key.apiKey).join(key.maskedKey) : text;
}

/** The human part of an error body: `error.message`, `message`, `msg` or `detail`, else the body itself. */
function errorMessage(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      const b = body as Record<string, unknown>;
      const err = b.error;
      if (
        typeof err === 'object' &&
        err !== null &&
        typeof (err as { message?: unknown }).message === 'string'
      )
        return (err as { message: string }).message;
      for (const field of ['message', 'msg', 'detail', 'error']) {
        if (typeof b[field] === 'string') return b[field] as string;
      }
    }
  } catch {
    // not JSON: use the text
  }
  return text;
}

/** Map an HTTP error status (and its body) to a failure kind. */
export function classifyUsageStatus(status: number, bodyText: string): UsageFailureKind {
  if (status === 401) return 'auth';
  if (status === 402) return 'payment';
  if (status === 403) return hasPaymentPhrase(bodyText) ? 'payment' : 'quota';
  if (status === 429) return 'rate';
  if (status >= 500) return 'server';
  if (status === 400 && hasPaymentPhrase(bodyText)) return 'payment';
  return 'http';
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const cause = (err as { cause?: unknown } | null)?.cause;
  const causeCode = (cause as { code?: unknown } | null)?.code;
  return typeof causeCode === 'string' ? causeCode : undefined;
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    chunks.push(buf);
    size += buf.length;
    if (size >= MAX_BODY_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

/** `GET {key.baseUrl ?? baseUrl}/usages` with `Authorization: Bearer <key>`. Never throws. */
export async function fetchUsage(key: KeyRecord, opts: FetchUsageOptions): Promise<UsageResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_USAGE_TIMEOUT_MS;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    const res = await httpRequest(usagesUrl(key, opts.baseUrl), {
      method: 'GET',
      headers: { authorization: `Bearer ${key.apiKey}`, accept: 'application/json' },
      signal: controller.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    });
    const text = scrub(await readCapped(res.body), key);
    const status = res.statusCode;
    if (status >= 200 && status < 300) {
      const parsed = parseUsageText(text);
      if (parsed.ok) return { ok: true, snapshot: parsed.snapshot };
      return { ok: false, kind: 'bad_payload', status, detail: parsed.detail };
    }
    const message = excerpt(errorMessage(text)) || '(empty body)';
    return {
      ok: false,
      kind: classifyUsageStatus(status, text),
      status,
      detail: `HTTP ${status}: ${message}`,
    };
  } catch (err) {
    const code = errCode(err);
    if (timedOut || (code !== undefined && TIMEOUT_CODES.has(code))) {
      return { ok: false, kind: 'timeout', detail: `no answer within ${timeoutMs} ms` };
    }
    const message = err instanceof Error ? err.message : String(err);
    const text = excerpt(
      scrub(code && !message.includes(code) ? `${code}: ${message}` : message, key),
      120,
    );
    return { ok: false, kind: 'network', detail: text || 'network error' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Check every key concurrently, at most `concurrency` (8) at a time, and return results by label.
 * In dry-run no request is made: each key gets its synthetic snapshot.
 */
export async function fetchAllUsages(
  keys: readonly KeyRecord[],
  opts: FetchAllUsagesOptions,
): Promise<Map<string, UsageResult>> {
  const results = new Map<string, UsageResult>();
  if (opts.dryRun) {
    const now = (opts.clock ?? systemClock).now();
    for (const key of keys)
      results.set(key.label, { ok: true, snapshot: syntheticUsage(key, now) });
    return results;
  }
  const limit = Math.max(1, Math.floor(opts.concurrency ?? USAGE_CONCURRENCY));
  const settled: UsageResult[] = new Array<UsageResult>(keys.length);
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const i = next++;
      settled[i] = await fetchUsage(keys[i] as KeyRecord, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, keys.length) }, worker));
  // Insert in key order so callers iterating the map see the registry's order.
  keys.forEach((key, i) => results.set(key.label, settled[i] as UsageResult));
  return results;
}
