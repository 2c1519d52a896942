// Admin endpoints under {base}/_kmi/: health, status (keys, states, counters, eligibility), Prometheus metrics and the dashboard.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stateBackendStatus } from '../state/open.js';
import { formatUtc } from '../state/schema.js';
import { sendError } from './client-error.js';
import type { ProxyContext } from './context.js';
import { handleDashboard, isDashboardRoute, isPublicDashboardRoute } from './dashboard/handler.js';
import { resolveActiveIndex, unavailability, type Skip } from './select.js';

/**
 * Admin routes that answer without the proxy token: only the dashboard page's static files, which
 * hold no data (the page asks for the token). Everything else under /_kmi/ needs it.
 */
export function isPublicAdminRoute(name: string): boolean {
  return isPublicDashboardRoute(name);
}

export function handleAdmin(
  ctx: ProxyContext,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (isDashboardRoute(name)) {
    handleDashboard(ctx, name, req, res);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, 405, false, 'kmi_method_not_allowed', `Use GET for /_kmi/${name}.`, {
      allow: 'GET, HEAD',
    });
    return;
  }
  switch (name) {
    case 'health': {
      const state = stateBackendStatus(ctx.sync.store);
      const coordination = ctx.coordination;
      const available = state.available && coordination.available();
      sendJson(res, {
        ok: true,
        // Still serving while the shared state is away (from the last known state): degraded.
        status: available ? 'ok' : 'degraded',
        // `kmi proxy-stop` only signals a pid that this endpoint vouches for.
        service: 'kmi',
        pid: process.pid,
        version: ctx.version,
        dry_run: ctx.config.dryRun,
        uptime_s: Math.max(0, Math.floor((ctx.clock.now() - ctx.startedAtMs) / 1000)),
        state: {
          kind: state.kind,
          location: state.location,
          available: state.available,
          down_since: state.downSinceMs === null ? null : new Date(state.downSinceMs).toISOString(),
          reason: state.reason,
        },
        coordination: {
          shared: coordination.shared,
          available: coordination.available(),
          pending_writes: coordination.pendingWrites(),
        },
      });
      return;
    }
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
        `Unknown admin endpoint /_kmi/${name}; try health, status, metrics or ui.`,
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

/**
 * The JSON of /_kmi/status: every key's state, counters, usage and why it is skipped now, plus the
 * background refresh and recheck. Keys are masked.
 */
export function proxyStatus(ctx: ProxyContext): Record<string, unknown> {
  const { sync, config } = ctx;
  const now = ctx.clock.now();
  const auto = sync.autoRotate;
  const activeIndex = resolveActiveIndex(ctx.labels, sync.activeLabel, sync.activeIndex);
  const policy = ctx.usage.policy;
  const pct = (ratio: number | null | undefined): number | null =>
    typeof ratio === 'number' && Number.isFinite(ratio)
      ? Math.round(Math.min(1, Math.max(0, ratio)) * 1000) / 10
      : null;
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
    const u = rt.usage;
    const stored = Object.hasOwn(sync.state.keys, key.label) ? sync.state.keys[key.label] : null;
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
      /** A window is nearly used up: taken only when no other key can serve (KMI_ROTATE_INCLUDE_WARN=0). */
      low_on_usage: now < rt.usageLowUntilMs,
      skip_reason: skip?.reason ?? null,
      skip_detail: skip?.detail ?? null,
      available_at: skip?.untilMs != null ? iso(skip.untilMs) : null,
      blocked_reason: now < rt.blockedUntilMs ? rt.blockedReason : null,
      blocked_until: now < rt.blockedUntilMs ? iso(rt.blockedUntilMs) : null,
      exhausted_until: now < rt.exhaustedUntilMs ? iso(rt.exhaustedUntilMs) : null,
      usage_exhausted_until: now < rt.usageEmptyUntilMs ? iso(rt.usageEmptyUntilMs) : null,
      usage_exhausted_window: now < rt.usageEmptyUntilMs ? rt.usageEmptyWindow : null,
      usage:
        u === null
          ? null
          : {
              five_hour_remaining_pct: pct(u.fiveHour?.remainingRatio),
              five_hour_reset_at: u.fiveHour?.resetAt ?? null,
              weekly_remaining_pct: pct(u.weekly?.remainingRatio),
              weekly_reset_at: u.weekly?.resetAt ?? null,
              synthetic: u.synthetic === true,
            },
      last_usage_at: iso(rt.lastUsageAtMs),
      last_checked_at: typeof stored?.last_checked_at === 'string' ? stored.last_checked_at : null,
      request_count: rt.requestCount,
      error_401: rt.error401,
      error_403: rt.error403,
      error_429: rt.error429,
      error_5xx: rt.error5xx,
      consecutive_failures: rt.consecutiveFailures,
      last_used: iso(rt.lastUsedMs),
    };
  });
  const refresh = ctx.usage.last;
  const recheck = ctx.recheck.last;
  const next = (lastMs: number | undefined, seconds: number): string | null =>
    seconds > 0 && lastMs !== undefined ? iso(lastMs + seconds * 1000) : null;
  return {
    ok: true,
    version: ctx.version,
    pid: process.pid,
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
    policy: {
      strict_usage_check: config.requireUsageBeforeRequest,
      fail_open_on_empty_cache: config.failOpenOnEmptyCache,
      usage_max_age_s: policy.usageMaxAgeMs / 1000,
      failing_open: policy.usageMaxAgeMs > 0 && policy.usageFailOpen,
      include_warn: config.rotateIncludeWarn,
    },
    usage_refresh: {
      interval_s: ctx.usage.intervalSeconds,
      last_at: refresh === null ? null : iso(refresh.atMs),
      next_at: next(refresh?.atMs, ctx.usage.intervalSeconds),
      checked: refresh?.checked ?? 0,
      ok: refresh?.ok ?? 0,
      failed: refresh?.failed ?? 0,
      error: ctx.usage.lastError,
    },
    blocklist_recheck: {
      interval_s: ctx.recheck.intervalSeconds,
      max: config.blocklistRecheckMax,
      last_at: recheck === null ? null : iso(recheck.atMs),
      next_at: next(recheck?.atMs, ctx.recheck.intervalSeconds),
      checked: recheck?.checked ?? [],
      unblocked: recheck?.unblocked ?? [],
      error: ctx.recheck.lastError,
    },
    keys,
  };
}
