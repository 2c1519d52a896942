// startProxy: the node:http server in front of the key pool — route, guard, limits, body, exchange, relay, trace — and its graceful close.
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { KeyRecord } from '../auth/types.js';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { KmiError } from '../errors.js';
import { nullLogger, type Logger } from '../log/types.js';
import type { StateBackend } from '../state/backend.js';
import type { TraceSink } from '../trace/record.js';
import { handleAdmin } from './admin.js';
import { readRequestBody } from './body.js';
import { errorBody, sendError, type ProxyErrorCode } from './client-error.js';
import { Cancellation, cancellableSleep } from './cancel.js';
import type { ProxyContext } from './context.js';
import { exchange } from './failover.js';
import { checkBindAllowed, createTokenCheck } from './guard.js';
import { readClientHeaders } from './headers.js';
import { ProxyMetrics } from './metrics.js';
import { nullTraceSink } from './null-trace.js';
import { RateLimiter, retryAfterSeconds } from './rate-limit.js';
import { isEventStream, relay } from './relay.js';
import { newRequestId } from './request-id.js';
import { isAnthropicPath, resolveRoute } from './route.js';
import type { SimulateOptions } from './simulate.js';
import { StateSync } from './state-sync.js';
import { resolveTarget, UpstreamPools } from './upstream.js';

export { checkBindAllowed } from './guard.js';
export type { SimulateOptions, SimulatedFault } from './simulate.js';

export interface ProxyOptions {
  config: Config;
  keys: readonly KeyRecord[];
  store: StateBackend;
  trace?: TraceSink;
  logger?: Logger;
  clock?: Clock;
  random?: () => number;
  version?: string;
  /** Backoff sleep between retries on the same key (tests inject one that does not wait). */
  sleep?: (ms: number, cancel: Cancellation) => Promise<void>;
  /** Dry-run only: per-label faults for `kmi demo`. */
  simulate?: SimulateOptions;
  /** Upstream connections per origin (default 128). */
  upstreamConnections?: number;
}

export interface RunningProxy {
  /** http://host:port + base path (no trailing slash; just http://host:port when the base path is `/`). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Stop accepting, let in-flight requests finish (up to 10 s), flush state counters, close upstream pools. */
  close(): Promise<void>;
}

const DRAIN_MS = 10_000;

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const { config, keys, store } = options;
  checkBindAllowed(config);
  const logger = options.logger ?? nullLogger;
  const clock = options.clock ?? systemClock;
  const labels = keys.map((k) => k.label);
  const targets = keys.map((key) => {
    const checked = resolveTarget(key.baseUrl ?? config.upstreamBaseUrl, config.upstreamAllowlist);
    if (checked.ok) return checked.target;
    logger.warn('proxy.key_upstream_rejected', { label: key.label, problem: checked.problem });
    return null;
  });
  const sync = await StateSync.open({ store, labels, logger });
  const pools = new UpstreamPools({
    connections: options.upstreamConnections ?? 128,
    headersTimeoutMs: config.upstreamTimeoutMs,
    bodyTimeoutMs: config.upstreamTimeoutMs,
  });
  const perKey = config.proxyMaxRpsPerKey > 0 || config.proxyMaxRpmPerKey > 0;
  const global = new RateLimiter(config.proxyMaxRps, config.proxyMaxRpm);
  const ctx: ProxyContext = {
    config,
    keys,
    labels,
    targets,
    sync,
    pools,
    metrics: new ProxyMetrics(),
    trace: options.trace ?? nullTraceSink,
    logger,
    clock,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? cancellableSleep,
    globalLimit: global.enabled ? global : null,
    keyLimits: perKey
      ? keys.map(() => new RateLimiter(config.proxyMaxRpsPerKey, config.proxyMaxRpmPerKey))
      : null,
    simulate: config.dryRun ? (options.simulate ?? {}) : null,
    version: options.version ?? 'dev',
    startedAtMs: clock.now(),
  };
  const handler = createHandler(ctx);

  let active = 0;
  let onDrained: (() => void) | null = null;
  const server = createServer({ keepAliveTimeout: 30_000, noDelay: true }, (req, res) => {
    active++;
    handler(req, res)
      .catch((err: unknown) => {
        logger.error('proxy.internal_error', {
          message: err instanceof Error ? err.message : String(err),
        });
        if (!res.headersSent)
          sendError(res, 500, false, 'kmi_internal_error', 'Internal error in the kmi proxy.');
        else res.destroy();
      })
      .finally(() => {
        active--;
        if (active === 0 && onDrained !== null) onDrained();
      });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    answerClientError(err, socket),
  );

  const { host, port: wantedPort } = config.proxyListen;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: wantedPort }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await sync.close().catch(() => undefined);
    await pools.destroy();
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'EADDRINUSE')
      throw new KmiError(
        'KMI_E_PORT_IN_USE',
        'proxy.portInUse',
        { host, port: wantedPort },
        { cause: err },
      );
    throw new KmiError(
      'KMI_E_PROXY_START',
      'proxy.listenFailed',
      { host, port: wantedPort, reason: code },
      { cause: err },
    );
  }
  // After a successful listen, server errors (e.g. EMFILE on accept) are logged, never fatal.
  server.on('error', (err: NodeJS.ErrnoException) => {
    logger.error('proxy.server_error', { code: err.code ?? 'error', message: err.message });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}${config.proxyBasePath === '/' ? '' : config.proxyBasePath}`;
  logger.info('proxy.start', {
    url,
    dry_run: config.dryRun,
    keys: keys.length,
    version: ctx.version,
  });

  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    logger.info('proxy.stopping', { in_flight: active });
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_MS);
        onDrained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    server.closeAllConnections();
    await serverClosed;
    const poolsClosed = pools.close();
    const late = await Promise.race([poolsClosed.then(() => false), delay(2_000).then(() => true)]);
    if (late) await pools.destroy();
    await sync.close().catch((err: unknown) => {
      logger.error('proxy.state_flush_failed', {
        reason: err instanceof Error ? err.message : String(err),
      });
    });
    await ctx.trace.flush().catch(() => undefined);
    logger.info('proxy.stopped', {});
  };
  return {
    url,
    port,
    host,
    close: () => (closing ??= close()),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

const BAD_ROUTE: Record<'target' | 'traversal' | 'encoding', string> = {
  target: 'Bad request target: expected a path starting with "/".',
  traversal: 'Bad request path: "." and ".." segments are not allowed.',
  encoding: 'Bad request path: invalid percent-encoding.',
};

const TOKEN_HINT =
  'Missing or wrong kmi proxy token. Send the KMI_PROXY_TOKEN value as the x-kmi-proxy-token header, or as Authorization: Bearer <token> (your SDK api key).';

/** Values safe for an HTTP header (labels may hold any file-name characters). */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

function createHandler(ctx: ProxyContext) {
  const { config } = ctx;
  const tokenCheck = createTokenCheck(config.proxyToken);
  const keyLabels = ctx.keys.map((k) => headerSafe(k.label));
  const maxBody = config.proxyMaxBodyBytes;

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const route = resolveRoute(req.url, config.proxyBasePath);
    if (route.kind === 'outside') {
      sendError(
        res,
        404,
        false,
        'kmi_not_found',
        `Not found. The kmi proxy serves only paths under ${config.proxyBasePath}.`,
      );
      return;
    }
    if (route.kind === 'bad') {
      sendError(res, 400, false, 'kmi_bad_request', BAD_ROUTE[route.reason]);
      return;
    }
    const headers = readClientHeaders(req.rawHeaders);
    if (config.dryRun) res.setHeader('x-kmi-dry-run', '1');
    const anthropic = route.kind === 'forward' && isAnthropicPath(route.rest);
    if (tokenCheck !== null && !tokenCheck(headers)) {
      ctx.metrics.request('', 401, (performance.now() - t0) / 1000);
      sendError(res, 401, anthropic, 'kmi_unauthorized', TOKEN_HINT, {
        'www-authenticate': 'Bearer realm="kmi"',
      });
      return;
    }
    if (route.kind === 'admin') {
      handleAdmin(ctx, route.name, req, res);
      return;
    }

    const atMs = ctx.clock.now();
    const requestId = newRequestId();
    const reject = (
      status: number,
      code: ProxyErrorCode,
      message: string,
      extra?: Record<string, string>,
    ) => {
      res.setHeader('x-kmi-request-id', requestId);
      sendError(res, status, anthropic, code, message, extra);
    };
    const endpoint = route.rest === '' ? '/' : route.rest;
    const method = req.method ?? 'GET';
    let body: Buffer | null = null;
    const finish = (
      status: number,
      errorCode: string | null,
      keyIndex: number | null,
      attempts: number,
      failoverFrom: string[],
      stream: boolean,
      ttfbMs: number | null,
    ): void => {
      const latency = performance.now() - t0;
      const label = keyIndex === null ? null : ctx.labels[keyIndex]!;
      ctx.metrics.request(label ?? '', status, latency / 1000);
      ctx.trace.record({
        atMs,
        promptBody: config.tracePrompts && body !== null && body.length > 0 ? body : null,
        record: {
          request_id: requestId,
          method,
          key_label: label,
          key_hash: keyIndex === null ? null : ctx.keys[keyIndex]!.keyHash,
          endpoint,
          status,
          latency_ms: Math.round(latency),
          error_code: errorCode,
          rotation_index: keyIndex ?? ctx.sync.rotationIndex,
          ttfb_ms: ttfbMs === null ? null : Math.round(ttfbMs),
          attempts,
          failover_from: failoverFrom,
          stream,
          dry_run: config.dryRun,
        },
      });
    };

    if (ctx.globalLimit !== null) {
      const wait = ctx.globalLimit.tryTake(atMs);
      if (wait > 0) {
        const seconds = retryAfterSeconds(wait);
        reject(
          429,
          'kmi_rate_limited',
          `The kmi proxy's request limit (KMI_PROXY_MAX_RPS / KMI_PROXY_MAX_RPM) is reached; retry in ${seconds} s.`,
          { 'retry-after': String(seconds) },
        );
        finish(429, 'rate_limited', null, 0, [], false, null);
        return;
      }
    }

    const declared = headers.contentLength;
    if (declared !== undefined && Number.isNaN(declared)) {
      reject(400, 'kmi_bad_request', 'Bad request: invalid Content-Length header.', {
        connection: 'close',
      });
      finish(400, 'bad_request', null, 0, [], false, null);
      return;
    }
    const tooLarge = () => {
      reject(
        413,
        'kmi_body_too_large',
        `Request body is larger than KMI_PROXY_MAX_BODY_MB (${Math.round((maxBody / 1048576) * 100) / 100} MiB).`,
        { connection: 'close' },
      );
      finish(413, 'body_too_large', null, 0, [], false, null);
    };
    if (declared !== undefined && declared > maxBody) {
      tooLarge();
      return;
    }
    if ((declared !== undefined && declared > 0) || headers.chunked) {
      const read = await readRequestBody(req, maxBody);
      if (read === 'too_large') {
        tooLarge();
        return;
      }
      if (read === 'aborted') {
        finish(499, 'client_aborted', null, 0, [], false, null);
        return;
      }
      body = read;
    }

    const cancel = new Cancellation();
    const onClose = () => {
      if (!res.writableFinished) cancel.abort();
    };
    res.once('close', onClose);
    const result = await exchange(ctx, {
      method,
      rest: route.rest,
      query: route.query,
      headers,
      body,
      cancel,
    });
    if (result.kind === 'aborted') {
      finish(
        499,
        'client_aborted',
        result.keyIndex,
        result.attempts,
        result.failoverFrom,
        false,
        null,
      );
      return;
    }
    if (result.kind === 'unavailable') {
      const extra: Record<string, string> = {};
      if (result.retryAfterMs !== null)
        extra['retry-after'] = String(retryAfterSeconds(result.retryAfterMs));
      reject(result.status, 'kmi_no_key_available', result.message, extra);
      finish(
        result.status,
        'no_key_available',
        null,
        result.attempts,
        result.failoverFrom,
        false,
        null,
      );
      return;
    }
    // From here the relay watches the connection itself.
    res.removeListener('close', onClose);
    const { reply, keyIndex } = result;
    let ttfb: number | null = null;
    const extra = { 'x-kmi-key-label': keyLabels[keyIndex]!, 'x-kmi-request-id': requestId };
    const end = await relay(res, reply, extra, () => {
      ttfb = performance.now() - t0;
    });
    if (end === 'stream_aborted') ctx.metrics.upstreamError(ctx.labels[keyIndex]!, 'stream');
    const status = end === 'ok' ? reply.status : end === 'stream_aborted' ? 502 : 499;
    const errorCode = end !== 'ok' ? end : reply.status >= 400 ? `upstream_${reply.status}` : null;
    finish(
      status,
      errorCode,
      keyIndex,
      result.attempts,
      result.failoverFrom,
      isEventStream(reply.headers),
      ttfb,
    );
  };
}

/** Malformed requests that never reach the handler (bad request line, oversized headers): a clean JSON 4xx. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const message =
    status === 431
      ? 'Request headers are too large.'
      : status === 408
        ? 'Request timed out.'
        : 'Malformed HTTP request.';
  const body = errorBody(false, status, 'kmi_bad_request', message);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
