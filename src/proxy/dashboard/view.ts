// The dashboard's picture of the proxy: keys with health and quota, rotation spread, warnings — built once per tick for all viewers.
import { classifyKeyHealth, type HealthStatus } from '../../health/score.js';
import { formatUtc, type KeyState, type State } from '../../state/schema.js';
import { CONFIDENCE_WINDOW, rotationConfidence } from '../../trace/confidence.js';
import { t } from '../../ui/i18n/index.js';
import type { Distribution, KeyView, Quota, Snapshot, Warning } from '../../web/types.js';
import type { ProxyContext } from '../context.js';
import type { KeyRuntime } from '../key-runtime.js';
import {
  describeSkip,
  resolveActiveIndex,
  unavailability,
  type AvailabilityPolicy,
  type Skip,
  type SkipReason,
} from '../select.js';

export type QuotaView = Quota;

/** A key row as the proxy builds it: the wire shape, with the server's own health and skip types. */
export interface DashboardKey extends KeyView {
  readonly health: HealthStatus;
  readonly skip: SkipReason | null;
}

export type DashboardDistribution = Distribution;
export type DashboardWarning = Warning;

export interface DashboardSnapshot extends Snapshot {
  readonly keys: readonly DashboardKey[];
}

const msOrNull = (ms: number): number | null => (ms > 0 && Number.isFinite(ms) ? ms : null);

/** A state entry for health scoring: the proxy's runtime view (fresher than the file), usage included. */
function scoringState(rt: KeyRuntime, stored: KeyState | undefined, now: number): KeyState {
  const blocked = now < rt.blockedUntilMs;
  return {
    ...stored,
    last_used: rt.lastUsedMs > 0 ? formatUtc(rt.lastUsedMs) : null,
    request_count: rt.requestCount,
    error_401: rt.error401,
    error_403: rt.error403,
    error_429: rt.error429,
    error_5xx: rt.error5xx,
    exhausted_until: now < rt.exhaustedUntilMs ? formatUtc(rt.exhaustedUntilMs) : null,
    blocked_reason: blocked ? (rt.blockedReason ?? 'blocked') : null,
    blocked_until:
      blocked && Number.isFinite(rt.blockedUntilMs) ? formatUtc(rt.blockedUntilMs) : null,
    last_usage: rt.usage,
    last_usage_at: rt.lastUsageAtMs > 0 ? formatUtc(rt.lastUsageAtMs) : null,
  };
}

const SKIP_WARN: ReadonlySet<SkipReason> = new Set<SkipReason>([
  'rate_limited',
  'usage_unchecked',
  'upstream_not_allowed',
]);

function keyView(
  ctx: ProxyContext,
  i: number,
  state: State,
  now: number,
  policy: AvailabilityPolicy,
  activeIndex: number,
): DashboardKey {
  const key = ctx.keys[i]!;
  const rt = ctx.sync.runtimes[i]!;
  const stored = Object.hasOwn(state.keys, key.label) ? state.keys[key.label] : undefined;
  let skip: Skip | null = unavailability(rt, key.disabled, ctx.targets[i] !== null, now, policy);
  const limit = ctx.keyLimits?.[i];
  if (skip === null && limit !== undefined) {
    const wait = limit.waitMs(now);
    if (wait > 0)
      skip = { label: key.label, reason: 'rate_limited', detail: null, untilMs: now + wait };
  }
  const health = classifyKeyHealth({
    key,
    keyState: scoringState(rt, stored, now),
    usage: null,
    now,
  });
  let status = health.status;
  let reason = t(health.reason, health.reasonParams, 'en');
  if (status === 'healthy' && skip !== null && SKIP_WARN.has(skip.reason)) {
    status = 'warn';
    reason = describeSkip(skip).replace(`${key.label}: `, '');
  } else if (status === 'healthy' && rt.consecutiveFailures > 0) {
    status = 'warn';
    reason = `${rt.consecutiveFailures} upstream failure${rt.consecutiveFailures === 1 ? '' : 's'} in a row`;
  }
  const blocked = now < rt.blockedUntilMs;
  const quota = (pct: number | null, resetAt: number | null): QuotaView | null =>
    pct === null && resetAt === null ? null : { remaining_pct: pct, reset_at: resetAt };
  return {
    label: key.label,
    masked_key: key.maskedKey,
    priority: key.priority,
    disabled: key.disabled,
    active: !ctx.sync.autoRotate && i === activeIndex,
    health: status,
    reason,
    skip: skip?.reason ?? null,
    skip_text: skip === null ? null : describeSkip(skip),
    available_at: skip?.untilMs ?? null,
    blocked_reason: blocked ? (rt.blockedReason ?? 'blocked') : null,
    can_unblock: blocked || now < rt.exhaustedUntilMs || rt.consecutiveFailures > 0,
    five_hour: quota(health.fiveHourRemainingPct, health.fiveHourResetAt),
    weekly: quota(health.weeklyRemainingPct, health.weeklyResetAt),
    usage_at: rt.usage === null ? null : msOrNull(rt.lastUsageAtMs),
    usage_synthetic: health.synthetic,
    requests: rt.requestCount,
    errors: rt.error401 + rt.error403 + rt.error429 + rt.error5xx,
    error_401: rt.error401,
    error_403: rt.error403,
    error_429: rt.error429,
    error_5xx: rt.error5xx,
    consecutive_failures: rt.consecutiveFailures,
    last_used: msOrNull(rt.lastUsedMs),
  };
}

function warnings(
  ctx: ProxyContext,
  keys: readonly DashboardKey[],
  policy: AvailabilityPolicy,
): DashboardWarning[] {
  const out: DashboardWarning[] = [];
  const blocked = keys.filter((k) => k.blocked_reason !== null);
  if (blocked.length > 0) {
    const list = blocked.map((k) => `${k.label} (${k.blocked_reason})`).join(', ');
    out.push({
      level: 'error',
      text: `${blocked.length} key${blocked.length === 1 ? ' is' : 's are'} blocked: ${list}.`,
    });
  }
  const eligible = keys.filter((k) => k.skip === null).length;
  const unchecked = keys.filter((k) => k.skip === 'usage_unchecked');
  if (unchecked.length > 0) {
    const seconds = Math.round(policy.usageMaxAgeMs / 1000);
    const why =
      policy.firstRefreshPending === true
        ? 'the first /usages refresh has not finished'
        : `no successful /usages check in the last ${seconds} s`;
    const list = unchecked.map((k) => k.label).join(', ');
    out.push(
      eligible === 0
        ? {
            level: 'error',
            text: `The strict usage pre-check (KMI_REQUIRE_USAGE_BEFORE_REQUEST=1) is starving traffic: no key can serve, ${why}.`,
          }
        : {
            level: 'warn',
            text: `The strict usage pre-check skips ${unchecked.length} key${unchecked.length === 1 ? '' : 's'} (${list}): ${why}.`,
          },
    );
  }
  if (eligible === 0 && keys.length > 0 && unchecked.length === 0) {
    out.push({ level: 'error', text: 'No key can serve requests right now.' });
  }
  if (keys.length === 0) out.push({ level: 'error', text: 'The proxy has no keys.' });
  return out;
}

export function buildSnapshot(ctx: ProxyContext): DashboardSnapshot {
  const { config, sync } = ctx;
  const now = ctx.clock.now();
  const state = sync.state;
  const policy = ctx.usage.policy;
  const activeIndex = resolveActiveIndex(ctx.labels, sync.activeLabel, sync.activeIndex);
  const keys = ctx.keys.map((_, i) => keyView(ctx, i, state, now, policy, activeIndex));
  const eligibleLabels = keys.filter((k) => k.skip === null).map((k) => k.label);
  const spread = rotationConfidence(ctx.trace.recent(CONFIDENCE_WINDOW), eligibleLabels);
  return {
    now,
    version: ctx.version,
    pid: process.pid,
    dry_run: config.dryRun,
    upstream: config.upstreamBaseUrl,
    base_path: config.proxyBasePath,
    started_at: ctx.startedAtMs,
    uptime_s: Math.max(0, Math.floor((now - ctx.startedAtMs) / 1000)),
    auto_rotate: sync.autoRotate,
    auto_rotate_allowed: config.autoRotateAllowed,
    active_label: sync.autoRotate ? null : (ctx.labels[activeIndex] ?? null),
    eligible_keys: eligibleLabels.length,
    failovers: ctx.metrics.failoverCount,
    keys,
    distribution: {
      window: CONFIDENCE_WINDOW,
      confidence: spread.confidence === null ? null : Math.round(spread.confidence * 10) / 10,
      warn: spread.warn,
      sample: spread.sample,
      considered: spread.considered,
      even_share: spread.evenShare,
      keys: spread.keys.map((k) => ({
        label: k.label,
        count: k.count,
        share: Math.round(k.share * 10) / 10,
        eligible: k.eligible,
      })),
    },
    warnings: warnings(ctx, keys, policy),
  };
}
