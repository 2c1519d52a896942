// `kmi status`: mode, auth folder and key counts, active key, auto-rotate, state path, proxy; `--json` in the Python tool's shape.
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
    probeProxy(config),
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
  const report = {
    mode: config.dryRun ? 'dry-run' : 'live',
    version: ctx.version,
    env_file: config.envFile,
    auths_dir: registry.dir,
    state_path: join(config.stateDir, 'state.json'),
    proxy: {
      running: probe.running,
      host: config.proxyListen.host,
      port: config.proxyListen.port,
      url,
      pids: [] as number[],
      daemon_log: join(config.stateDir, 'logs', 'proxy.out'),
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
      probe.running ? t('status.proxyRunning', { url }) : t('status.proxyStopped', { url }),
    ],
    [
      t('status.lastHealth'),
      formatStateTime(state.last_health_refresh, config.timezone) ?? t('status.never'),
    ],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) io.out(`${io.paint.bold(k.padEnd(width))}  ${v}`);
  if (accounts.length > 0) {
    io.out('');
    io.out(
      renderTable(
        io,
        [
          { header: t('status.col.label') },
          { header: t('status.col.key') },
          { header: t('status.col.state') },
          { header: t('status.col.priority'), align: 'right' },
          { header: t('status.col.requests'), align: 'right' },
          { header: t('status.col.email') },
          ...(config.showSource ? [{ header: t('status.col.source') }] : []),
        ],
        accounts.map((a) => [
          (a.label === active?.label ? (io.plain ? '* ' : '▶ ') : '  ') + a.label,
          a.masked_key,
          paintCondition(ctx, a.state),
          String(a.priority),
          String(a.request_count),
          a.email ?? '',
          ...(config.showSource ? [a.source] : []),
        ]),
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
