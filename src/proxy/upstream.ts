// Upstream side: the key's target URL, one keep-alive undici Pool per origin, and one request = one attempt.
import type { IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';
import { checkUpstreamUrl, type UpstreamProblem } from '../config/upstream.js';
import type { Cancellation, CancelTarget } from './cancel.js';
import type { UpstreamErrorKind } from './metrics.js';
import { ReplyBody, type SourceControl } from './reply-body.js';

export interface UpstreamTarget {
  /** `http(s)://host[:port]` */
  readonly origin: string;
  /** The base URL's path without a trailing slash, e.g. `/coding/v1` (or ''). */
  readonly pathPrefix: string;
}

export type TargetCheck =
  | { readonly ok: true; readonly target: UpstreamTarget }
  | { readonly ok: false; readonly problem: UpstreamProblem };

/** Validate a base URL (https unless loopback, allowlist) and split it into origin and path prefix. */
export function resolveTarget(baseUrl: string, allowlist: readonly string[]): TargetCheck {
  const checked = checkUpstreamUrl(baseUrl, allowlist);
  if (!checked.ok) return checked;
  const url = new URL(checked.url);
  return { ok: true, target: { origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, '') } };
}

/** An upstream answer whose body has not been consumed yet. */
export interface UpstreamReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: ReplyBody;
}

export interface UpstreamRequest {
  readonly method: string;
  /** Path and query, starting with '/'. */
  readonly path: string;
  readonly headers: string[];
  readonly body: Buffer | null;
  /** The client went away: abort the upstream request at once. */
  readonly cancel: Cancellation;
}

export interface PoolOptions {
  /** Max connections per origin. */
  readonly connections: number;
  /** Max wait for response headers (0 = none). */
  readonly headersTimeoutMs: number;
  /** Max silence between body chunks (0 = none). */
  readonly bodyTimeoutMs: number;
}

class RequestCancelledError extends Error {
  readonly code = 'KMI_REQUEST_CANCELLED';
  constructor() {
    super('the client went away');
  }
}

/**
 * One upstream request as an undici dispatch handler: resolves with status and headers as soon as
 * they arrive and feeds the body into a ReplyBody, which holds it (bounded) until the proxy chooses
 * to classify, relay or drop it. It is also the body's source control and the request's cancel
 * target, so a request costs no Readable, AbortController or listener closures.
 */
class UpstreamCall implements Dispatcher.DispatchHandler, SourceControl, CancelTarget {
  private readonly body = new ReplyBody();
  private controller: Dispatcher.DispatchController | null = null;
  private started = false;
  private finished = false;

  constructor(
    private readonly resolve: (reply: UpstreamReply) => void,
    private readonly reject: (err: Error) => void,
    private readonly cancel: Cancellation,
  ) {
    cancel.watch(this);
  }

  // ---- CancelTarget: the client went away ----
  cancelled(): void {
    if (this.finished) return;
    // Still queued for a connection: answer the proxy now; onRequestStart aborts it later.
    if (this.controller === null) this.reject(new RequestCancelledError());
    else this.controller.abort(new RequestCancelledError());
  }

  // ---- SourceControl, used by the ReplyBody ----
  pause(): void {
    this.controller?.pause();
  }
  resume(): void {
    this.controller?.resume();
  }
  abort(): void {
    if (!this.finished) this.controller?.abort(new RequestCancelledError());
  }

  // ---- undici ----
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.cancel.aborted) {
      controller.abort(new RequestCancelledError());
      return;
    }
    this.body.attach(this);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // 1xx informational: the real answer follows
    this.started = true;
    this.resolve({ status: statusCode, headers, body: this.body });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.body.push(chunk);
  }

  onResponseEnd(): void {
    this.finished = true;
    this.cancel.release(this);
    this.body.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.finished = true;
    this.cancel.release(this);
    if (this.started) this.body.fail(err);
    else this.reject(err);
  }
}

// Only undici's connection pool is needed. Loading it alone, not the package entry with fetch,
// WebSocket, caches and the rest, keeps about 8 MiB off the proxy's resident memory.
const Pool: typeof UndiciPool = loadPool();

function loadPool(): typeof UndiciPool {
  const require = createRequire(import.meta.url);
  try {
    return require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
  } catch {
    return (require('undici') as { Pool: typeof UndiciPool }).Pool;
  }
}

/** One undici Pool per upstream origin, created on first use. */
export class UpstreamPools {
  private readonly pools = new Map<string, UndiciPool>();

  constructor(private readonly options: PoolOptions) {}

  request(target: UpstreamTarget, req: UpstreamRequest): Promise<UpstreamReply> {
    let pool = this.pools.get(target.origin);
    if (pool === undefined) {
      pool = new Pool(target.origin, {
        connections: this.options.connections,
        pipelining: 1,
        keepAliveTimeout: 10_000,
        keepAliveMaxTimeout: 60_000,
        headersTimeout: this.options.headersTimeoutMs,
        bodyTimeout: this.options.bodyTimeoutMs,
        // Connecting counts against the header timeout too, never longer than 10 s.
        connect: { timeout: Math.min(10_000, this.options.headersTimeoutMs || 10_000) },
      });
      this.pools.set(target.origin, pool);
    }
    const dispatcher = pool;
    return new Promise<UpstreamReply>((resolve, reject) => {
      dispatcher.dispatch(
        { method: req.method, path: req.path, headers: req.headers, body: req.body },
        new UpstreamCall(resolve, reject, req.cancel),
      );
    });
  }

  /** Sockets open to the upstreams (for tests and the status endpoint). */
  connectedSockets(): number {
    let n = 0;
    for (const pool of this.pools.values()) n += pool.stats.connected;
    return n;
  }

  /** Let running requests finish, then close every connection. */
  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
    this.pools.clear();
  }

  /** Close every connection now, aborting running requests. */
  async destroy(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy().catch(() => undefined)));
    this.pools.clear();
  }
}

/** Sort a failed upstream request into a metrics kind. */
export function upstreamErrorKind(err: unknown): UpstreamErrorKind {
  const code =
    typeof err === 'object' && err !== null && 'code' in err
      ? String((err as { code: unknown }).code)
      : '';
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'stream';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'connect';
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_CLOSED':
      return 'reset';
    default:
      return 'other';
  }
}
