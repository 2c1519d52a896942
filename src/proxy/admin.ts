// Admin endpoints under {base}/_kmi/: health, status (keys, states, counters, eligibility) and Prometheus metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatUtc } from '../state/schema.js';
import { sendError } from './client-error.js';
import type { ProxyContext } from './context.js';
import { resolveActiveIndex, unavailability, type Skip } from './select.js';

export function handleAdmin(
  ctx: ProxyContext,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, 405, false, 'kmi_method_not_allowed', `Use GET for /_kmi/${name}.`, {
      allow: 'GET, HEAD',
    });
    return;
  }
  switch (name) {
    case 'health':
      sendJson(res, {
        ok: true,
        // `kmi proxy-stop` only signals a pid that this endpoint vouches for.
        service: 'kmi',
        pid: process.pid,
        version: ctx.version,
        dry_run: ctx.config.dryRun,
        uptime_s: Math.max(0, Math.floor((ctx.clock.now() - ctx.startedAtMs) / 1000)),
      });
      return;
    case 'status':
      sendJson(res, proxyStatus(ctx));
      return;
    case 'metrics': {
      const text = ctx.metrics.render();
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      });
      res.end(text);
      return;
    }
    default:
      sendError(
        res,
        404,
        false,
        'kmi_not_found',
        `Unknown admin endpoint /_kmi/${name}; try health, status or metrics.`,
      );
  }
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

const iso = (ms: number): string | null => (ms > 0 && Number.isFinite(ms) ? formatUtc(ms) : null);

/** The JSON of /_kmi/status: every key's state, counters and why it is skipped now. Keys are masked. */
export function proxyStatus(ctx: ProxyContext): Record<string, unknown> {
  const { sync, config } = ctx;
  const now = ctx.clock.now();
  const auto = sync.autoRotate;
  const activeIndex = resolveActiveIndex(ctx.labels, sync.activeLabel, sync.activeIndex);
  const policy = { usageMaxAgeMs: 0, usageFailOpen: true };
  const keys = ctx.keys.map((key, i) => {
    const rt = sync.runtimes[i]!;
    let skip: Skip | null = unavailability(rt, key.disabled, ctx.targets[i] !== null, now, policy);
    const limit = ctx.keyLimits?.[i];
    if (skip === null && limit !== undefined) {
      const wait = limit.waitMs(now);
      if (wait > 0)
        skip = { label: key.label, reason: 'rate_limited', detail: null, untilMs: now + wait };
    }
    const target = ctx.targets[i];
    return {
      label: key.label,
      masked_key: key.maskedKey,
      key_hash: key.keyHash,
      priority: key.priority,
      disabled: key.disabled,
      upstream: target ? `${target.origin}${target.pathPrefix}` : null,
      active: !auto && i === activeIndex,
      state: skip === null ? 'ok' : skip.reason,
      eligible: skip === null,
      skip_reason: skip?.reason ?? null,
      skip_detail: skip?.detail ?? null,
      available_at: skip?.untilMs != null ? iso(skip.untilMs) : null,
      blocked_reason: now < rt.blockedUntilMs ? rt.blockedReason : null,
      blocked_until: now < rt.blockedUntilMs ? iso(rt.blockedUntilMs) : null,
      exhausted_until: now < rt.exhaustedUntilMs ? iso(rt.exhaustedUntilMs) : null,
      request_count: rt.requestCount,
      error_401: rt.error401,
      error_403: rt.error403,
      error_429: rt.error429,
      error_5xx: rt.error5xx,
      consecutive_failures: rt.consecutiveFailures,
      last_used: iso(rt.lastUsedMs),
    };
  });
  return {
    ok: true,
    version: ctx.version,
    dry_run: config.dryRun,
    uptime_s: Math.max(0, Math.floor((now - ctx.startedAtMs) / 1000)),
    upstream: config.upstreamBaseUrl,
    base_path: config.proxyBasePath,
    auto_rotate: auto,
    rotation_index: sync.rotationIndex,
    active_index: activeIndex,
    active_label: ctx.labels[activeIndex] ?? null,
    eligible_keys: keys.filter((k) => k.eligible).length,
    failovers: ctx.metrics.failoverCount,
    limits: {
      max_rps: config.proxyMaxRps,
      max_rpm: config.proxyMaxRpm,
      max_rps_per_key: config.proxyMaxRpsPerKey,
      max_rpm_per_key: config.proxyMaxRpmPerKey,
    },
    keys,
  };
}
