// Dashboard data for `kmi --all/--health/--current`: one row per key, ordered, with current/next markers; no printing.
import type { KeyRecord } from '../auth/types.js';
import { rankKeys, type RankResult } from '../rotation/rank.js';
import { formatUtc, parseUtc, type KeyState, type State } from '../state/schema.js';
import { formatZonedShort } from '../zoned-time.js';
import { t, type Locale, type MessageKey, type Params } from '../ui/i18n/index.js';
import { classifyKeyHealth, statusRank, type HealthStatus, type KeyHealth } from './score.js';
import type { UsageResult } from './usage-client.js';

export interface HealthRow extends KeyHealth {
  readonly label: string;
  readonly maskedKey: string;
  readonly keyHash: string;
  readonly email: string | null;
  readonly source: string;
  readonly priority: number;
  readonly disabled: boolean;
  readonly requests: number;
  readonly errors: {
    readonly e401: number;
    readonly e403: number;
    readonly e429: number;
    readonly e5xx: number;
    readonly total: number;
  };
  /** ms, or null when never used. */
  readonly lastUsed: number | null;
  readonly lastCheckedAt: number | null;
  /** The key the Kimi CLI config points at. */
  readonly current: boolean;
  /** The key `kmi --rotate` would pick. */
  readonly next: boolean;
}

export interface HealthReport {
  /** Current key first, then healthy (most remaining first), warn, exhausted, blocked. */
  readonly rows: readonly HealthRow[];
  readonly counts: Readonly<Record<HealthStatus, number>>;
  readonly currentLabel: string | null;
  /** What manual rotation would choose, with its reason. */
  readonly rotation: RankResult;
  /** Keys with a result in `results`, and how many of those failed. */
  readonly checked: number;
  readonly failed: number;
}

export interface BuildHealthReportInput {
  readonly keys: readonly KeyRecord[];
  readonly state: State;
  /** This run's /usages results by label; keys without one fall back to their stored last_usage. */
  readonly results: ReadonlyMap<string, UsageResult>;
  readonly now: number;
  /** Label of the key in the Kimi config, or null. */
  readonly currentLabel: string | null;
  readonly includeWarn: boolean;
  readonly rotateOnTie: boolean;
}

const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

function stateOf(state: State, label: string): KeyState | null {
  return Object.hasOwn(state.keys, label) ? (state.keys[label] as KeyState) : null;
}

/** The lowest known remaining % (the tighter window), or null. */
export function tighterRemainingPct(
  h: Pick<KeyHealth, 'fiveHourRemainingPct' | 'weeklyRemainingPct'>,
): number | null {
  const known = [h.fiveHourRemainingPct, h.weeklyRemainingPct].filter(
    (x): x is number => x !== null,
  );
  return known.length === 0 ? null : Math.min(...known);
}

/** Order rows: current first, then by status (healthy → blocked), most remaining first, priority, label. */
export function compareHealthRows(a: HealthRow, b: HealthRow): number {
  if (a.current !== b.current) return a.current ? -1 : 1;
  const s = statusRank(a.status) - statusRank(b.status);
  if (s !== 0) return s;
  const ra = tighterRemainingPct(a);
  const rb = tighterRemainingPct(b);
  if (ra !== rb) {
    if (ra === null) return 1;
    if (rb === null) return -1;
    return rb - ra;
  }
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.label < b.label ? -1 : a.label > b.label ? 1 : 0;
}

/** Classify every key, rank them for rotation, and order the rows for display. */
export function buildHealthReport(input: BuildHealthReportInput): HealthReport {
  const { now } = input;
  const base = input.keys.map((key) => {
    const ks = stateOf(input.state, key.label);
    const health = classifyKeyHealth({
      key,
      keyState: ks,
      usage: input.results.get(key.label) ?? null,
      now,
    });
    const errors = {
      e401: count(ks?.error_401),
      e403: count(ks?.error_403),
      e429: count(ks?.error_429),
      e5xx: count(ks?.error_5xx),
      total: 0,
    };
    errors.total = errors.e401 + errors.e403 + errors.e429 + errors.e5xx;
    return {
      ...health,
      label: key.label,
      maskedKey: key.maskedKey,
      keyHash: key.keyHash,
      email: key.email,
      source: key.source,
      priority: key.priority,
      disabled: key.disabled,
      requests: count(ks?.request_count),
      errors,
      lastUsed: parseUtc(ks?.last_used),
      lastCheckedAt: parseUtc(ks?.last_checked_at),
      current: input.currentLabel !== null && key.label === input.currentLabel,
      next: false,
    };
  });
  const rotation = rankKeys(
    base.map((r) => ({
      label: r.label,
      status: r.status,
      fiveHourRemainingPct: r.fiveHourRemainingPct,
      weeklyRemainingPct: r.weeklyRemainingPct,
      priority: r.priority,
      lastUsed: r.lastUsed,
    })),
    {
      includeWarn: input.includeWarn,
      rotateOnTie: input.rotateOnTie,
      currentLabel: input.currentLabel,
      now,
    },
  );
  const rows: HealthRow[] = base
    .map((r) => ({ ...r, next: r.label === rotation.choice }))
    .sort(compareHealthRows);
  const counts: Record<HealthStatus, number> = { healthy: 0, warn: 0, exhausted: 0, blocked: 0 };
  for (const r of rows) counts[r.status]++;
  let checked = 0;
  let failed = 0;
  for (const key of input.keys) {
    const r = input.results.get(key.label);
    if (!r) continue;
    checked++;
    if (!r.ok) failed++;
  }
  return {
    rows,
    counts,
    currentLabel: rows.some((r) => r.current) ? input.currentLabel : null,
    rotation,
    checked,
    failed,
  };
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "2h 10m", "3d 4h", "5m", "<1m" in the locale's units. */
export function formatSpan(ms: number, locale?: Locale): string {
  const abs = Math.abs(ms);
  const unit = (key: MessageKey, n: number) => t(key, { n }, locale);
  if (abs < MINUTE) return t('health.time.lessThanMinute', {}, locale);
  if (abs < HOUR) return unit('health.time.minutes', Math.floor(abs / MINUTE));
  if (abs < DAY) {
    const h = Math.floor(abs / HOUR);
    const m = Math.floor((abs % HOUR) / MINUTE);
    return m === 0
      ? unit('health.time.hours', h)
      : `${unit('health.time.hours', h)} ${unit('health.time.minutes', m)}`;
  }
  const d = Math.floor(abs / DAY);
  const h = Math.floor((abs % DAY) / HOUR);
  return h === 0
    ? unit('health.time.days', d)
    : `${unit('health.time.days', d)} ${unit('health.time.hours', h)}`;
}

/** "in 2h 10m" for a future time, "5m ago" for a past one (localised). */
export function formatRelative(ms: number, nowMs: number, locale?: Locale): string {
  const span = formatSpan(ms - nowMs, locale);
  return ms >= nowMs
    ? t('health.time.in', { span }, locale)
    : t('health.time.ago', { span }, locale);
}

/** A table column: header text and alignment (the shape src/ui/table.ts renders). */
export interface HealthColumn {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

export interface HealthTableOptions {
  readonly now: number;
  /** KMI_TIMEZONE. */
  readonly timezone: string;
  readonly locale?: Locale;
  /** KMI_SHOW_SOURCE: add the key's source file. */
  readonly showSource?: boolean;
  /** Markers for current/next (plain text by default). */
  readonly markers?: { readonly current: string; readonly next: string };
}

const pctCell = (pct: number | null, locale?: Locale) =>
  pct === null ? t('health.cell.unknown', {}, locale) : `${Math.round(pct)}%`;

function resetCell(ms: number | null, o: HealthTableOptions): string {
  if (ms === null) return '–';
  return `${formatZonedShort(ms, o.timezone)} (${formatRelative(ms, o.now, o.locale)})`;
}

/** Plain-text headers and cells for the health table (no colors); the CLI renders and paints them. */
export function healthTable(
  rows: readonly HealthRow[],
  o: HealthTableOptions,
): { columns: HealthColumn[]; cells: string[][] } {
  const L = o.locale;
  const markers = o.markers ?? {
    current: t('health.marker.current', {}, L),
    next: t('health.marker.next', {}, L),
  };
  const h = (key: MessageKey, align?: 'right'): HealthColumn =>
    align ? { header: t(key, {}, L), align } : { header: t(key, {}, L) };
  const columns: HealthColumn[] = [
    h('health.col.mark'),
    h('health.col.label'),
    h('health.col.key'),
    h('health.col.email'),
    h('health.col.status'),
    h('health.col.fiveHour', 'right'),
    h('health.col.weekly', 'right'),
    h('health.col.reset'),
    h('health.col.requests', 'right'),
    h('health.col.errors', 'right'),
    h('health.col.lastUsed'),
  ];
  if (o.showSource) columns.push(h('health.col.source'));
  const cells = rows.map((r) => {
    const mark = [r.current ? markers.current : '', r.next ? markers.next : '']
      .filter(Boolean)
      .join(' ');
    const status =
      t(`health.status.${r.status}`, {}, L) +
      (r.synthetic ? ` ${t('health.cell.synthetic', {}, L)}` : '');
    const errors =
      r.errors.total === 0
        ? '0'
        : `${r.errors.total} (401:${r.errors.e401} 403:${r.errors.e403} 429:${r.errors.e429} 5xx:${r.errors.e5xx})`;
    const line = [
      mark,
      r.label,
      r.maskedKey,
      r.email ?? '',
      status,
      pctCell(r.fiveHourRemainingPct, L),
      pctCell(r.weeklyRemainingPct, L),
      resetCell(r.resetAt, o),
      String(r.requests),
      errors,
      r.lastUsed === null ? t('health.cell.never', {}, L) : formatRelative(r.lastUsed, o.now, L),
    ];
    if (o.showSource) line.push(r.source);
    return line;
  });
  return { columns, cells };
}

/** The reason of a row in the given locale. */
export function healthReasonText(
  row: Pick<KeyHealth, 'reason' | 'reasonParams'>,
  locale?: Locale,
): string {
  return t(row.reason, row.reasonParams as Params, locale);
}

/** JSON form of a row: times as UTC ISO strings, the reason translated (scripts get stable field names). */
export function healthRowJson(row: HealthRow, locale?: Locale): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : formatUtc(ms));
  return {
    label: row.label,
    masked_key: row.maskedKey,
    key_hash: row.keyHash,
    email: row.email,
    status: row.status,
    reason: healthReasonText(row, locale),
    five_hour_remaining_pct: row.fiveHourRemainingPct,
    weekly_remaining_pct: row.weeklyRemainingPct,
    five_hour_reset_at: iso(row.fiveHourResetAt),
    weekly_reset_at: iso(row.weeklyResetAt),
    reset_at: iso(row.resetAt),
    requests: row.requests,
    errors: { ...row.errors },
    error_rate: row.errorRate,
    last_used: iso(row.lastUsed),
    last_checked_at: iso(row.lastCheckedAt),
    usage_source: row.usageSource,
    synthetic: row.synthetic,
    check_error: row.checkFailure ? { ...row.checkFailure } : null,
    priority: row.priority,
    disabled: row.disabled,
    current: row.current,
    next: row.next,
  };
}
