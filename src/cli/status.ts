// `kmi status`: mode, auth folder and key counts, active key, auto-rotate, state path, proxy and its live view; `--json` in the Python tool's shape.
import { join } from 'node:path';
import { t } from '../ui/i18n/index.js';
import { renderTable } from '../ui/table.js';
import { parseUtc } from '../state/schema.js';
import { formatZonedShort } from '../zoned-time.js';
import { activeKey } from '../rotation/active.js';
import { keyCondition } from './key-condition.js';
import { probeProxy, proxyBaseUrl } from '../daemon/probe.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

export async function run(ctx: Context): Promise<CommandResult> {
  const { config, io } = ctx;
  const [registry, state, probe] = await Promise.all([
    ctx.auth(),
    ctx.store().read(),
    // The status endpoint answers only when a kmi proxy is serving: it is both the probe and the live view.
    probeProxy(config, '_kmi/status', 1500),
  ]);
  const now = Date.now();
  const active = activeKey(registry.keys, state);
  const accounts = registry.keys.map((k) => {
    const ks = state.keys[k.label];
    return {
      label: k.label,
      masked_key: k.maskedKey,
      key_hash: k.keyHash,
      source: k.source,
      priority: k.priority,
      disabled: k.disabled,
      email: k.email,
      state: keyCondition(k, ks, now),
      blocked_reason: ks?.blocked_reason ?? null,
      blocked_until: ks?.blocked_until ?? null,
      exhausted_until: ks?.exhausted_until ?? null,
      request_count: ks?.request_count ?? 0,
      last_used: ks?.last_used ?? null,
    };
  });
  const count = (s: string) => accounts.filter((a) => a.state === s).length;
  const warnings = registry.warnings.map((w) => ({
    file: w.file,
    message: t(w.messageKey, w.params),
  }));
  const url = proxyBaseUrl(config);
  const live = probe.running && probe.body !== null ? liveView(probe.body, url) : null;
  const report = {
    mode: config.dryRun ? 'dry-run' : 'live',
    version: ctx.version,
    env_file: config.envFile,
    auths_dir: registry.dir,
    // The file, or the Redis URL with its password hidden.
    state_path: ctx.store().location,
    proxy: {
      running: probe.running,
      host: config.proxyListen.host,
      port: config.proxyListen.port,
      url,
      pids: live?.pid != null ? [live.pid] : ([] as number[]),
      daemon_log: join(config.stateDir, 'logs', 'proxy.out'),
      dashboard_url: live?.dashboard_url ?? null,
    },
    upstream: config.upstreamBaseUrl,
    keys: {
      total: accounts.length,
      disabled: count('disabled'),
      blocked: count('blocked'),
      exhausted: count('exhausted'),
    },
    active_key: active?.label ?? null,
    rotation: {
      active_index: state.active_index,
      rotation_index: state.rotation_index,
      auto_rotate: state.auto_rotate,
    },
    policy: {
      strict_usage_check: config.requireUsageBeforeRequest,
      fail_open_on_empty_cache: config.failOpenOnEmptyCache,
    },
    cache: {
      usage_refresh_seconds: config.usageCacheSeconds,
      blocklist_recheck_seconds: config.blocklistRecheckSeconds,
      blocklist_max: config.blocklistRecheckMax,
    },
    payment_block_seconds: config.paymentBlockSeconds,
    last_health_refresh: state.last_health_refresh,
    accounts,
    warnings,
    /** The running proxy's own view (in-memory state, cooldowns, last refresh); null when it is not running. */
    live,
  };

  if (ctx.json) {
    io.out(JSON.stringify(report, null, 2));
    return 0;
  }
  ctx.banner();
  for (const w of warnings) io.err(`kmi: ${w.message}`);
  const yesNo = (b: boolean) => t(b ? 'common.on' : 'common.off');
  const lines: [string, string][] = [
    [t('status.envFile'), config.envFile ?? t('status.envNone')],
    [
      t('status.authsDir'),
      registry.dirExists ? registry.dir : t('status.authsMissing', { dir: registry.dir }),
    ],
    [
      t('status.keys'),
      t('status.keyCounts', {
        total: report.keys.total,
        ok: count('ok'),
        blocked: report.keys.blocked,
        exhausted: report.keys.exhausted,
        disabled: report.keys.disabled,
      }),
    ],
    [t('status.activeKey'), active ? `${active.label} (${active.maskedKey})` : t('common.none')],
    [t('status.autoRotate'), yesNo(state.auto_rotate)],
    [t('status.statePath'), report.state_path],
    [t('status.upstream'), config.upstreamBaseUrl],
    [
      t('status.proxy'),
      live !== null ? t('status.proxyRunning', { url }) : t('status.proxyStopped', { url }),
    ],
    ...(live !== null ? liveLines(live, config.timezone) : []),
    [
      t('status.lastHealth'),
      formatStateTime(state.last_health_refresh, config.timezone) ?? t('status.never'),
    ],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) io.out(`${io.paint.bold(k.padEnd(width))}  ${v}`);
  if (accounts.length > 0) {
    io.out('');
    if (live !== null) io.out(t('status.liveNote'));
    const liveKeys = new Map(live?.keys.map((k) => [k.label, k]) ?? []);
    const zoned = (iso: string | null) => formatStateTime(iso, config.timezone) ?? '';
    const pct = (v: number | null) => (v === null ? '' : `${v}%`);
    io.out(
      renderTable(
        io,
        [
          { header: t('status.col.label') },
          { header: t('status.col.key') },
          { header: t('status.col.state') },
          ...(live !== null
            ? [
                { header: t('status.col.until') },
                { header: t('status.col.fiveHour'), align: 'right' as const },
                { header: t('status.col.weekly'), align: 'right' as const },
              ]
            : []),
          { header: t('status.col.priority'), align: 'right' },
          { header: t('status.col.requests'), align: 'right' },
          { header: t('status.col.email') },
          ...(config.showSource ? [{ header: t('status.col.source') }] : []),
        ],
        accounts.map((a) => {
          const lk = liveKeys.get(a.label);
          return [
            (a.label === active?.label ? (io.plain ? '* ' : '▶ ') : '  ') + a.label,
            a.masked_key,
            lk ? paintLiveState(ctx, lk) : paintCondition(ctx, a.state),
            ...(live !== null
              ? [
                  zoned(lk?.available_at ?? null),
                  pct(lk?.five_hour_remaining_pct ?? null),
                  pct(lk?.weekly_remaining_pct ?? null),
                ]
              : []),
            String(a.priority),
            String(lk?.request_count ?? a.request_count),
            a.email ?? '',
            ...(config.showSource ? [a.source] : []),
          ];
        }),
      ),
    );
  } else {
    io.out(t('status.noKeys', { dir: registry.dir }));
  }
  return 0;
}

function paintCondition(ctx: Context, state: string): string {
  const text = t(`keyState.${state as 'ok' | 'disabled' | 'blocked' | 'exhausted'}`);
  const p = ctx.io.paint;
  return state === 'ok' ? p.green(text) : state === 'exhausted' ? p.yellow(text) : p.red(text);
}

function formatStateTime(value: string | null, timezone: string): string | null {
  const ms = parseUtc(value);
  return ms === null ? null : formatZonedShort(ms, timezone);
}

/** One key as the running proxy sees it. */
export interface LiveKey {
  readonly label: string;
  /** `ok` or why the key is skipped now (blocked, exhausted, rate_limited, usage_unchecked, …). */
  readonly state: string;
  readonly eligible: boolean;
  /** A usage window is nearly used up: the key serves only when no other can. */
  readonly low_on_usage: boolean;
  /** When the key is expected to serve again (UTC), or null. */
  readonly available_at: string | null;
  readonly blocked_reason: string | null;
  readonly blocked_until: string | null;
  readonly exhausted_until: string | null;
  readonly usage_exhausted_until: string | null;
  readonly five_hour_remaining_pct: number | null;
  readonly weekly_remaining_pct: number | null;
  readonly last_usage_at: string | null;
  readonly request_count: number;
}

/** `kmi status --json`'s `live`: the proxy's /_kmi/status, reduced to what status needs. */
export interface LiveView {
  readonly url: string;
  readonly dashboard_url: string;
  readonly pid: number | null;
  readonly version: string | null;
  readonly uptime_s: number | null;
  readonly auto_rotate: boolean;
  readonly active_label: string | null;
  readonly eligible_keys: number | null;
  readonly usage_refresh: {
    readonly interval_s: number | null;
    readonly last_at: string | null;
    readonly next_at: string | null;
    readonly ok: number | null;
    readonly failed: number | null;
  };
  readonly blocklist_recheck: {
    readonly interval_s: number | null;
    readonly last_at: string | null;
    readonly unblocked: readonly string[];
  };
  readonly keys: readonly LiveKey[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Read the proxy's status JSON defensively (an older or newer proxy may lack or add fields). */
export function liveView(body: Json, url: string): LiveView {
  const refresh = obj(body.usage_refresh);
  const recheck = obj(body.blocklist_recheck);
  const keys = Array.isArray(body.keys) ? body.keys.map(obj) : [];
  return {
    url,
    dashboard_url: `${url}/_kmi/ui`,
    pid: num(body.pid),
    version: str(body.version),
    uptime_s: num(body.uptime_s),
    auto_rotate: body.auto_rotate === true,
    active_label: str(body.active_label),
    eligible_keys: num(body.eligible_keys),
    usage_refresh: {
      interval_s: num(refresh.interval_s),
      last_at: str(refresh.last_at),
      next_at: str(refresh.next_at),
      ok: num(refresh.ok),
      failed: num(refresh.failed),
    },
    blocklist_recheck: {
      interval_s: num(recheck.interval_s),
      last_at: str(recheck.last_at),
      unblocked: strings(recheck.unblocked),
    },
    keys: keys
      .filter((k) => typeof k.label === 'string')
      .map((k) => {
        const usage = obj(k.usage);
        return {
          label: k.label as string,
          state: str(k.state) ?? 'ok',
          eligible: k.eligible === true,
          low_on_usage: k.low_on_usage === true,
          available_at: str(k.available_at),
          blocked_reason: str(k.blocked_reason),
          blocked_until: str(k.blocked_until),
          exhausted_until: str(k.exhausted_until),
          usage_exhausted_until: str(k.usage_exhausted_until),
          five_hour_remaining_pct: num(usage.five_hour_remaining_pct),
          weekly_remaining_pct: num(usage.weekly_remaining_pct),
          last_usage_at: str(k.last_usage_at),
          request_count: num(k.request_count) ?? 0,
        };
      }),
  };
}

function liveLines(live: LiveView, timezone: string): [string, string][] {
  const when = (iso: string | null) => formatStateTime(iso, timezone) ?? t('status.never');
  const refresh = live.usage_refresh;
  const recheck = live.blocklist_recheck;
  const refreshText = !refresh.interval_s
    ? t('status.liveOff')
    : refresh.last_at === null
      ? t('status.liveRefreshPending', { seconds: refresh.interval_s })
      : t('status.liveRefreshLast', {
          seconds: refresh.interval_s,
          time: when(refresh.last_at),
          ok: refresh.ok ?? 0,
          failed: refresh.failed ?? 0,
        });
  const recheckText = !recheck.interval_s
    ? t('status.liveOff')
    : recheck.last_at === null
      ? t('status.liveRecheckPending', { seconds: recheck.interval_s })
      : t('status.liveRecheckLast', {
          seconds: recheck.interval_s,
          time: when(recheck.last_at),
          labels: recheck.unblocked.length > 0 ? recheck.unblocked.join(', ') : t('common.none'),
        });
  return [
    [t('status.dashboard'), live.dashboard_url],
    [t('status.liveRefresh'), refreshText],
    [t('status.liveRecheck'), recheckText],
  ];
}

const LIVE_STATES = new Set([
  'disabled',
  'upstream_not_allowed',
  'blocked',
  'exhausted',
  'rate_limited',
  'usage_unchecked',
]);

function paintLiveState(ctx: Context, k: LiveKey): string {
  const p = ctx.io.paint;
  if (k.state === 'ok')
    return k.low_on_usage ? p.yellow(t('liveState.low')) : p.green(t('liveState.ok'));
  if (k.state === 'blocked' && k.blocked_reason !== null)
    return p.red(t('liveState.blockedReason', { reason: k.blocked_reason }));
  const text = LIVE_STATES.has(k.state) ? t(`liveState.${k.state as 'blocked'}`) : k.state;
  return k.state === 'exhausted' || k.state === 'rate_limited' ? p.yellow(text) : p.red(text);
}
