// The end-to-end rotation check: send batches through the proxy and measure how evenly keys served them.
import { httpRequest } from '../health/http-request.js';
import { rotationConfidence, type RotationConfidence } from '../trace/confidence.js';

export interface E2eOptions {
  /** Proxy base URL, e.g. http://127.0.0.1:54123/kmi-rotor/v1 */
  readonly proxyUrl: string;
  readonly token: string;
  readonly requests: number;
  readonly batch: number;
  /** Requests in the confidence window. */
  readonly window: number;
  /** Path under the base, e.g. /models */
  readonly endpoint: string;
  readonly minConfidence: number;
  readonly timeoutMs: number;
  readonly pauseMs: number;
  /** Labels of keys that should share the load. */
  readonly eligibleLabels: readonly string[];
  readonly onBatch?: (b: E2eBatch) => void;
}

export interface E2eBatch {
  readonly sent: number;
  readonly keysUsed: number;
  readonly keysEligible: number;
  readonly confidence: number | null;
  readonly errors: number;
}

export interface E2eResult {
  readonly ok: boolean;
  readonly sent: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly confidence: RotationConfidence;
  readonly batches: readonly E2eBatch[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function one(options: E2eOptions): Promise<{ label: string | null; error: string | null }> {
  const headers: Record<string, string> = { 'user-agent': 'kmi-e2e' };
  if (options.token !== '') headers['x-kmi-proxy-token'] = options.token;
  try {
    const res = await httpRequest(
      `${options.proxyUrl}${options.endpoint.startsWith('/') ? '' : '/'}${options.endpoint}`,
      {
        method: 'GET',
        headers,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      },
    );
    await res.body.dump();
    const label = res.headers['x-kmi-key-label'];
    const labelText = typeof label === 'string' ? decodeURIComponent(label) : null;
    return { label: labelText, error: res.statusCode >= 400 ? `HTTP ${res.statusCode}` : null };
  } catch (err) {
    return {
      label: null,
      error: err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.name) : 'error',
    };
  }
}

/** Run the check. ok = no errors and confidence ≥ minConfidence over the last `window` requests. */
export async function runE2e(options: E2eOptions): Promise<E2eResult> {
  const served: { key_label: string | null }[] = [];
  const batches: E2eBatch[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let sent = 0;
  while (sent < options.requests) {
    const size = Math.min(options.batch, options.requests - sent);
    const results = await Promise.all(Array.from({ length: size }, () => one(options)));
    sent += size;
    for (const r of results) {
      served.push({ key_label: r.error === null ? r.label : null });
      if (r.error !== null) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(r.error);
      }
    }
    const window = served.slice(-options.window);
    const c = rotationConfidence(window, options.eligibleLabels, { window: options.window });
    const batch: E2eBatch = {
      sent,
      keysUsed: new Set(window.map((w) => w.key_label).filter((l) => l !== null)).size,
      keysEligible: options.eligibleLabels.length,
      confidence: c.confidence,
      errors,
    };
    batches.push(batch);
    options.onBatch?.(batch);
    if (sent < options.requests && options.pauseMs > 0) await sleep(options.pauseMs);
  }
  const confidence = rotationConfidence(served.slice(-options.window), options.eligibleLabels, {
    window: options.window,
    warnBelow: options.minConfidence,
  });
  const ok =
    errors === 0 &&
    confidence.confidence !== null &&
    confidence.confidence >= options.minConfidence;
  return { ok, sent, errors, errorSamples, confidence, batches };
}
