// `kmi doctor`: configuration, keys, proxy and file checks (OK/WARN/FAIL with a fix), plus blocklist recheck and clearing.
import { KmiError, SilentExit } from '../errors.js';
import { emptyState, type State } from '../state/schema.js';
import { probeProxy, proxyBaseUrl } from '../daemon/probe.js';
import { runChecks, type DoctorRow } from '../doctor/checks.js';
import {
  pickBlockedForRecheck,
  recheckBlockedKeys,
  type RecheckOutcome,
} from '../health/recheck.js';
import { fetchUsage } from '../health/usage-client.js';
import { syntheticUsage } from '../health/synthetic.js';
import { clearBlock, keyState } from '../state/key-state.js';
import { t } from '../ui/i18n/index.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const { config, io } = ctx;
  const store = ctx.store();
  const registry = await ctx.auth();
  const now = Date.now();

  let cleared: string[] | null = null;
  if (opts.clearBlocklist === true) {
    cleared = [];
    const list = cleared;
    await store.update((state) => {
      list.length = 0;
      for (const key of registry.keys)
        if (clearBlock(keyState(state, key.label))) list.push(key.label);
    });
    ctx.logger().audit('blocklist_cleared', { labels: cleared, actor: config.auditActor });
  }

  let rechecked: RecheckOutcome[] | null = null;
  if (opts.recheckKeys === true) {
    const targets = pickBlockedForRecheck(registry.keys, await store.read(), now, 0);
    rechecked = await recheckBlockedKeys({
      keys: targets,
      store,
      nowMs: now,
      fetch: config.dryRun
        ? async (k) => ({ ok: true, snapshot: syntheticUsage(k, now) })
        : (k) => fetchUsage(k, { baseUrl: config.upstreamBaseUrl }),
    });
    const unblocked = rechecked.filter((r) => r.unblocked).map((r) => r.label);
    if (unblocked.length > 0)
      ctx
        .logger()
        .audit('keys_unblocked_by_recheck', { labels: unblocked, actor: config.auditActor });
  }

  // An unreachable state backend must not stop the report: its own check row says FAIL and why.
  let state: State;
  try {
    state = await store.read();
  } catch (err) {
    if (!(err instanceof KmiError)) throw err;
    state = emptyState();
  }
  const proxyUrl = proxyBaseUrl(config);
  const rows = await runChecks({
    config,
    registry,
    state,
    proxy: await probeProxy(config),
    proxyUrl,
    kimiBaseUrl: process.env.KIMI_BASE_URL,
    nowMs: now,
  });
  const failed = rows.some((r) => r.status === 'fail');

  if (ctx.json) {
    io.out(
      JSON.stringify(
        {
          mode: config.dryRun ? 'dry-run' : 'live',
          ok: !failed,
          checks: rows.map((r) => ({
            id: r.id,
            group: r.group,
            status: r.status,
            message: t(r.messageKey, r.params),
            fix: r.fixKey ? t(r.fixKey, r.fixParams) : null,
          })),
          cleared,
          rechecked:
            rechecked?.map((r) => ({
              label: r.label,
              ok: r.result.ok,
              failure: r.result.ok ? null : r.result.kind,
              unblocked: r.unblocked,
              payment_held: r.paymentHeld,
            })) ?? null,
        },
        null,
        2,
      ),
    );
  } else {
    ctx.banner();
    if (cleared !== null)
      io.out(
        cleared.length > 0
          ? t('doctor.cleared', { labels: cleared.join(', ') })
          : t('doctor.clearedNone'),
      );
    if (rechecked !== null) {
      if (rechecked.length === 0) io.out(t('doctor.recheckNone'));
      for (const r of rechecked) io.out(recheckLine(r));
    }
    for (const row of rows) io.out(renderRow(ctx, row));
    io.out(failed ? t('doctor.summaryFail') : t('doctor.summaryOk'));
  }
  if (failed) throw new SilentExit(1);
  return 0;
}

function recheckLine(r: RecheckOutcome): string {
  if (r.unblocked) return t('doctor.recheckUnblocked', { label: r.label });
  if (r.paymentHeld) return t('doctor.recheckPaymentHeld', { label: r.label });
  if (r.result.ok) return t('doctor.recheckOk', { label: r.label });
  return t('doctor.recheckFailed', { label: r.label, kind: r.result.kind });
}

function renderRow(ctx: Context, row: DoctorRow): string {
  const p = ctx.io.paint;
  const tag =
    row.status === 'ok'
      ? p.green('OK  ')
      : row.status === 'warn'
        ? p.yellow('WARN')
        : p.red('FAIL');
  const fix = row.fixKey && row.status !== 'ok' ? ` — ${t(row.fixKey, row.fixParams)}` : '';
  return `${tag} ${t(row.messageKey, row.params)}${fix}`;
}
