// `kmi health` / `kmi --all` / `kmi --health` / `kmi --current`: every key's status, quota windows and counters.
import { KmiError, SilentExit } from '../errors.js';
import { healthRowJson, healthTable, type HealthRow } from '../health/report.js';
import { maskKey } from '../auth/mask.js';
import { t } from '../ui/i18n/index.js';
import { renderTable } from '../ui/table.js';
import { checkAllKeys } from './health-check.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

function paintStatus(ctx: Context, row: HealthRow, text: string): string {
  const p = ctx.io.paint;
  return row.status === 'healthy'
    ? p.green(text)
    : row.status === 'warn'
      ? p.yellow(text)
      : p.red(text);
}

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const { config, io } = ctx;
  const onlyCurrent = opts.current === true;
  const { report, current, results, now } = await checkAllKeys(ctx);
  const rows = onlyCurrent ? report.rows.filter((r) => r.current) : report.rows;
  const nothingChecked = report.checked > 0 && report.failed === report.checked;

  if (ctx.json) {
    io.out(
      JSON.stringify(
        {
          mode: config.dryRun ? 'dry-run' : 'live',
          synthetic: config.dryRun,
          checked: report.checked,
          failed: report.failed,
          counts: report.counts,
          current: current.label,
          current_outside_pool:
            current.label === null && current.current !== null
              ? maskKey(current.current.apiKey)
              : null,
          kimi_config_error: current.error
            ? t(current.error.messageKey, current.error.params)
            : null,
          next: report.rotation.choice,
          next_reason: t(report.rotation.reasonKey, report.rotation.reasonParams),
          keys: rows.map((r) => healthRowJson(r)),
        },
        null,
        2,
      ),
    );
  } else {
    ctx.banner();
    if (config.dryRun) io.out(t('health.syntheticNote'));
    if (current.error) io.err(`kmi: ${t(current.error.messageKey, current.error.params)}`);
    if (onlyCurrent && rows.length === 0) {
      io.out(
        current.current !== null
          ? t('kimi.currentNotInPool', { masked: maskKey(current.current.apiKey) })
          : t('health.noCurrent', { file: config.kimiConfigPath }),
      );
    } else {
      const table = healthTable(rows, {
        now,
        timezone: config.timezone,
        showSource: config.showSource,
        markers: io.plain ? undefined : { current: '▶', next: '→' },
      });
      const statusColumn = table.columns.findIndex((c) => c.header === t('health.col.status'));
      const cells = table.cells.map((line, i) =>
        line.map((cell, j) =>
          j === statusColumn ? paintStatus(ctx, rows[i] as HealthRow, cell) : cell,
        ),
      );
      io.out(renderTable(io, table.columns, cells));
      for (const [label, r] of results) {
        if (!r.ok) io.out(t('health.checkFailedLine', { label, kind: r.kind, detail: r.detail }));
      }
      io.out(t('health.summary', { ...report.counts, total: report.rows.length }));
      io.out(
        `${t('health.marker.next')}: ${report.rotation.choice ?? t('common.none')} — ${t(report.rotation.reasonKey, report.rotation.reasonParams)}`,
      );
    }
  }
  if (nothingChecked) {
    if (ctx.json) throw new SilentExit(1);
    throw new KmiError('KMI_E_HEALTH', 'health.nothingChecked');
  }
  if (onlyCurrent && rows.length === 0) return 1;
  return 0;
}
