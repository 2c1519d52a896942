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
import type { Coordination } from '../state/coordination.js';
import { openCoordination, subscribeStateEvents, type OpenStateEvent } from '../state/open.js';
import type { TraceSink } from '../trace/record.js';
import { handleAdmin, isPublicAdminRoute } from './admin.js';
import { BlocklistRechecker } from './background.js';
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
import { defaultFetchUsages, UsageRefresher, type FetchUsages } from './refresh.js';
import { isEventStream, relay } from './relay.js';
import { newRequestId } from './request-id.js';
import { isAnthropicPath, resolveRoute } from './route.js';
import type { SimulateOptions } from './simulate.js';
import { StateSync } from './state-sync.js';
import { resolveTarget, UpstreamPools } from './upstream.js';

export { checkBindAllowed } from './guard.js';
export type { SimulateOptions, SimulatedFault } from './simulate.js';
export type { FetchUsages } from './refresh.js';

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
  /** /usages for the background refresh and blocklist recheck (default: fetchAllUsages, synthetic in dry-run). */
  fetchUsages?: FetchUsages;
  /** Shared round robin / limits / writes; default: openCoordination(store) (Redis → shared). */
  coordination?: Coordination;
}

export interface RunningProxy {
  /** http://host:port + base path (no trailing slash; just http://host:port when the base path is `/`). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Stop accepting, let in-flight requests finish (up to 10 s), flush state counters, close upstream pools. */
  close(): Promise<void>;
  /** Run a /usages refresh of all keys now (after the one in progress); resolves once it is applied. */
  refreshUsage(): Promise<void>;
  /** Run a blocklist recheck pass now (after the one in progress). */
  recheckBlocked(): Promise<void>;
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
  const initial = await store.read();
  const coordination =
    options.coordination ??
    (await openCoordination(store, { rotationStart: initial.rotation_index }));
  const shared = coordination.shared ? coordination : null;
  // Outages of the shared state are logged once each (the link reports them once).
  const unsubscribe = subscribeStateEvents(store, (event) => logStateEvent(logger, event));
  const sync = StateSync.fromState(
    {
      store,
      labels,
      logger,
      usageFallbackMs: config.rotationCooldownSeconds * 1000,
      coordination: shared,
    },
    initial,
  );
  const allowed = targets.map((t) => t !== null);
  const fetchUsages = options.fetchUsages ?? defaultFetchUsages(config, clock);
  const background = { config, keys, allowed, sync, logger, clock, fetchUsages };
  const usage = new UsageRefresher(background);
  const recheck = new BlocklistRechecker(background);
  const pools = new UpstreamPools({
    connections: options.upstreamConnections ?? 128,
    headersTimeoutMs: config.upstreamTimeoutMs,
    bodyTimeoutMs: config.upstreamTimeoutMs,
  });
  const perKey = config.proxyMaxRpsPerKey > 0 || config.proxyMaxRpmPerKey > 0;
  const global = new RateLimiter(config.proxyMaxRps, config.proxyMaxRpm);
  const sharedGlobal = shared !== null && global.enabled;
  const ctx: ProxyContext = {
    config,
    keys,
    labels,
    bearers: keys.map((k) => `Bearer ${k.apiKey}`),
    targets,
    sync,
    usage,
    recheck,
    pools,
    metrics: new ProxyMetrics(),
    trace: options.trace ?? nullTraceSink,
    logger,
    clock,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? cancellableSleep,
    globalLimit: global.enabled && shared === null ? global : null,
    keyLimits:
      perKey && shared === null
        ? keys.map(() => new RateLimiter(config.proxyMaxRpsPerKey, config.proxyMaxRpmPerKey))
        : null,
    coordination,
    shared,
    simulate: config.dryRun ? (options.simulate ?? {}) : null,
    version: options.version ?? 'dev',
    startedAtMs: clock.now(),
  };
  const inFlight: InFlight = { active: 0, onDrained: null };
  const handler = createHandler(ctx, inFlight, sharedGlobal);
  const server = createServer({ keepAliveTimeout: 30_000, noDelay: true }, handler);
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
    await coordination.close().catch(() => undefined);
    unsubscribe();
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
  usage.start();
  recheck.start();
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
    logger.info('proxy.stopping', { in_flight: inFlight.active });
    const backgroundStopped = Promise.all([usage.stop(), recheck.stop()]);
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (inFlight.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_MS);
        inFlight.onDrained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    server.closeAllConnections();
    await serverClosed;
    // A pass waiting on a slow /usages answer must not hold the shutdown: its result is dropped.
    await Promise.race([backgroundStopped, delay(1_000)]);
    const poolsClosed = pools.close();
    const late = await Promise.race([poolsClosed.then(() => false), delay(2_000).then(() => true)]);
    if (late) await pools.destroy();
    await sync.close().catch((err: unknown) => {
      logger.error('proxy.state_flush_failed', {
        reason: err instanceof Error ? err.message : String(err),
      });
    });
    // Queued shared writes go out (briefly) before the caller closes the store's connection.
    await coordination.close().catch(() => undefined);
    unsubscribe();
    await ctx.trace.flush().catch(() => undefined);
    logger.info('proxy.stopped', {});
  };
  return {
    url,
    port,
    host,
    close: () => (closing ??= close()),
    refreshUsage: () => usage.refreshNow(),
    recheckBlocked: () => recheck.recheckNow(),
  };
}

/** Shared-state outages and recoveries, once each (the password is never in them). */
function logStateEvent(logger: Logger, event: OpenStateEvent): void {
  switch (event.kind) {
    case 'backend-down':
      logger.warn('proxy.state_backend_down', {
        location: event.location,
        reason: event.reason,
        note: 'serving from the last known state; round robin and rate limits are per proxy until it returns',
      });
      return;
    case 'backend-up':
      logger.info('proxy.state_backend_up', { location: event.location });
      return;
    case 'backend-reseeded':
      logger.warn('proxy.state_backend_reseeded', { location: event.location });
      return;
    case 'fail-open':
      logger.warn('proxy.state_fail_open', { location: event.location, reason: event.reason });
      return;
    default:
      return;
  }
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

/** What one forwarded request carries through its life: one object instead of a handful of closures. */
interface Flight {
  readonly t0: number;
  readonly atMs: number;
  readonly requestId: string;
  readonly method: string;
  readonly endpoint: string;
  readonly anthropic: boolean;
  body: Buffer | null;
}

/** Counts handlers in flight so close() can wait for them. */
interface InFlight {
  active: number;
  onDrained: (() => void) | null;
}

/** A kmi error reply for a forwarded request (it carries the request id). */
function refuse(
  res: ServerResponse,
  flight: Flight,
  status: number,
  code: ProxyErrorCode,
  message: string,
  extra?: Record<string, string>,
): void {
  res.setHeader('x-kmi-request-id', flight.requestId);
  sendError(res, status, flight.anthropic, code, message, extra);
}

/** Metrics and one trace entry for a finished request. */
function record(
  ctx: ProxyContext,
  flight: Flight,
  status: number,
  errorCode: string | null,
  keyIndex: number | null,
  attempts: number,
  failoverFrom: string[],
  stream: boolean,
  ttfbMs: number | null,
): void {
  const latency = performance.now() - flight.t0;
  const label = keyIndex === null ? null : ctx.labels[keyIndex]!;
  ctx.metrics.request(label ?? '', status, latency / 1000);
  const body = flight.body;
  ctx.trace.record({
    atMs: flight.atMs,
    promptBody: ctx.config.tracePrompts && body !== null && body.length > 0 ? body : null,
    record: {
      request_id: flight.requestId,
      method: flight.method,
      key_label: label,
      key_hash: keyIndex === null ? null : ctx.keys[keyIndex]!.keyHash,
      endpoint: flight.endpoint,
      status,
      latency_ms: Math.round(latency),
      error_code: errorCode,
      rotation_index: keyIndex ?? ctx.sync.rotationIndex,
      ttfb_ms: ttfbMs === null ? null : Math.round(ttfbMs),
      attempts,
      failover_from: failoverFrom,
      stream,
      dry_run: ctx.config.dryRun,
    },
  });
}

const NO_LABELS: string[] = [];

function createHandler(ctx: ProxyContext, inFlight: InFlight, sharedGlobal: boolean) {
  const { config, logger } = ctx;
  const tokenCheck = createTokenCheck(config.proxyToken);
  const keyLabels = ctx.keys.map((k) => headerSafe(k.label));
  const maxBody = config.proxyMaxBodyBytes;
  const bodyLimitMiB = Math.round((maxBody / 1048576) * 100) / 100;

  /** One request, start to end. Never throws: an unexpected error becomes a 500 (or a cut connection once the head is out). */
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
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
      // The dashboard's static files hold no data: they load without the token (the page asks for it).
      const publicRoute = route.kind === 'admin' && isPublicAdminRoute(route.name);
      if (tokenCheck !== null && !publicRoute && !tokenCheck(headers)) {
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

      const flight: Flight = {
        t0,
        atMs: ctx.clock.now(),
        requestId: newRequestId(),
        method: req.method ?? 'GET',
        endpoint: route.rest === '' ? '/' : route.rest,
        anthropic,
        body: null,
      };

      if (ctx.globalLimit !== null || sharedGlobal) {
        const wait =
          ctx.globalLimit !== null
            ? ctx.globalLimit.tryTake(flight.atMs)
            : await ctx.shared!.tryAcquireRate(
                'global',
                { rps: config.proxyMaxRps, rpm: config.proxyMaxRpm },
                flight.atMs,
              );
        if (wait > 0) {
          const seconds = retryAfterSeconds(wait);
          refuse(
            res,
            flight,
            429,
            'kmi_rate_limited',
            `The kmi proxy's request limit (KMI_PROXY_MAX_RPS / KMI_PROXY_MAX_RPM) is reached; retry in ${seconds} s.`,
            { 'retry-after': String(seconds) },
          );
          record(ctx, flight, 429, 'rate_limited', null, 0, NO_LABELS, false, null);
          return;
        }
      }

      const declared = headers.contentLength;
      if (declared !== undefined && Number.isNaN(declared)) {
        refuse(res, flight, 400, 'kmi_bad_request', 'Bad request: invalid Content-Length header.', {
          connection: 'close',
        });
        record(ctx, flight, 400, 'bad_request', null, 0, NO_LABELS, false, null);
        return;
      }
      if ((declared !== undefined && declared > 0) || headers.chunked) {
        const read =
          declared !== undefined && declared > maxBody
            ? 'too_large'
            : await readRequestBody(req, maxBody);
        if (read === 'too_large') {
          refuse(
            res,
            flight,
            413,
            'kmi_body_too_large',
            `Request body is larger than KMI_PROXY_MAX_BODY_MB (${bodyLimitMiB} MiB).`,
            { connection: 'close' },
          );
          record(ctx, flight, 413, 'body_too_large', null, 0, NO_LABELS, false, null);
          return;
        }
        if (read === 'aborted') {
          record(ctx, flight, 499, 'client_aborted', null, 0, NO_LABELS, false, null);
          return;
        }
        flight.body = read;
      }

      const cancel = Cancellation.forResponse(res);
      const result = await exchange(ctx, {
        method: flight.method,
        rest: route.rest,
        query: route.query,
        headers,
        body: flight.body,
        cancel,
        atMs: ctx.clock.now(), // after the body: a slow upload must not pick with a stale clock
      });
      if (result.kind === 'unavailable') {
        const extra: Record<string, string> = {};
        if (result.retryAfterMs !== null) {
          extra['retry-after'] = String(retryAfterSeconds(result.retryAfterMs));
        }
        refuse(res, flight, result.status, 'kmi_no_key_available', result.message, extra);
        const { attempts, failoverFrom } = result;
        record(
          ctx,
          flight,
          result.status,
          'no_key_available',
          null,
          attempts,
          failoverFrom,
          false,
          null,
        );
        return;
      }
      if (result.kind === 'aborted' || cancel.aborted) {
        const { keyIndex, attempts, failoverFrom } = result;
        if (result.kind === 'reply') result.reply.body.discard();
        record(ctx, flight, 499, 'client_aborted', keyIndex, attempts, failoverFrom, false, null);
        return;
      }
      const { reply, keyIndex } = result;
      const relayed = relay(res, reply, keyLabels[keyIndex]!, flight.requestId, cancel);
      const ttfb = performance.now() - t0; // the head is written synchronously by relay()
      const end = await relayed;
      if (end === 'stream_aborted') ctx.metrics.upstreamError(ctx.labels[keyIndex]!, 'stream');
      const status = end === 'ok' ? reply.status : end === 'stream_aborted' ? 502 : 499;
      const errorCode =
        end !== 'ok' ? end : reply.status >= 400 ? `upstream_${reply.status}` : null;
      const stream = isEventStream(reply.headers);
      record(
        ctx,
        flight,
        status,
        errorCode,
        keyIndex,
        result.attempts,
        result.failoverFrom,
        stream,
        ttfb,
      );
    } catch (err) {
      logger.error('proxy.internal_error', {
        message: err instanceof Error ? err.message : String(err),
      });
      if (!res.headersSent) {
        sendError(res, 500, false, 'kmi_internal_error', 'Internal error in the kmi proxy.');
      } else res.destroy();
    }
  }

  function settled(): void {
    inFlight.active--;
    if (inFlight.active === 0 && inFlight.onDrained !== null) inFlight.onDrained();
  }

  // Counted while in flight so close() can wait; one shared callback, no closure per request.
  return function onRequest(req: IncomingMessage, res: ServerResponse): void {
    inFlight.active++;
    void handle(req, res).then(settled);
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
