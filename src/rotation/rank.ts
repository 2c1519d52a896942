// Manual rotation (pure): rank eligible keys and pick one, explaining why; ties around the current key move on.
import type { HealthStatus } from '../health/score.js';
import { ref, type MessageKey, type Params } from '../ui/i18n/index.js';

export interface RankCandidate {
  readonly label: string;
  readonly status: HealthStatus;
  readonly fiveHourRemainingPct: number | null;
  readonly weeklyRemainingPct: number | null;
  /** Higher is preferred. */
  readonly priority: number;
  /** ms of the last use, or null when never used. */
  readonly lastUsed: number | null;
}

export interface RankOptions {
  /** KMI_ROTATE_INCLUDE_WARN. */
  readonly includeWarn: boolean;
  /** KMI_ROTATE_ON_TIE. */
  readonly rotateOnTie: boolean;
  /** The key the Kimi config uses now, or null. */
  readonly currentLabel: string | null;
  readonly now: number;
}

export interface RankedKey extends RankCandidate {
  /** Used % of the more-used window (one decimal), or null when no window is known. */
  readonly usedPct: number | null;
  /** 1 = best. */
  readonly rank: number;
  /** Tied with the best on status, usage and priority. */
  readonly tiedForBest: boolean;
}

export interface RankResult {
  /** Label to switch to, or null when no key is eligible. May equal the current key. */
  readonly choice: string | null;
  /** Eligible keys, best first. */
  readonly ranked: readonly RankedKey[];
  /** Keys left out, with their status. */
  readonly excluded: ReadonlyArray<{ readonly label: string; readonly status: HealthStatus }>;
  /** True when the choice is the current key (nothing to change). */
  readonly unchanged: boolean;
  readonly reasonKey: MessageKey;
  readonly reasonParams: Params;
}

/** Used % of the tighter (more-used) window, rounded to 0.1 so float noise does not break ties. */
export function tighterUsedPct(
  c: Pick<RankCandidate, 'fiveHourRemainingPct' | 'weeklyRemainingPct'>,
): number | null {
  const used = [c.fiveHourRemainingPct, c.weeklyRemainingPct]
    .filter((x): x is number => x !== null && Number.isFinite(x))
    .map((remaining) => 100 - remaining);
  if (used.length === 0) return null;
  return Math.round(Math.max(...used) * 10) / 10;
}

const STATUS_ORDER: Record<HealthStatus, number> = {
  healthy: 0,
  warn: 1,
  exhausted: 2,
  blocked: 3,
};

const byLabel = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Same status, usage and priority: what "tied for best" means (recency only breaks the tie). */
function tied(a: RankedKey | Omit<RankedKey, 'rank' | 'tiedForBest'>, b: typeof a): boolean {
  return (
    STATUS_ORDER[a.status] === STATUS_ORDER[b.status] &&
    a.usedPct === b.usedPct &&
    a.priority === b.priority
  );
}

function compare(
  a: Omit<RankedKey, 'rank' | 'tiedForBest'>,
  b: Omit<RankedKey, 'rank' | 'tiedForBest'>,
): number {
  const s = STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
  if (s !== 0) return s;
  if (a.usedPct !== b.usedPct) {
    // Unknown usage ranks after any known usage.
    if (a.usedPct === null) return 1;
    if (b.usedPct === null) return -1;
    return a.usedPct - b.usedPct;
  }
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.lastUsed !== b.lastUsed) {
    if (a.lastUsed === null) return -1;
    if (b.lastUsed === null) return 1;
    return a.lastUsed - b.lastUsed;
  }
  return byLabel(a.label, b.label);
}

const usedText = (pct: number | null) => (pct === null ? '?' : `${pct}%`);

/**
 * Rank eligible keys (healthy, plus warn with includeWarn) by status, then lowest used % of the
 * tighter window, then priority (desc), then least recently used, and choose one. When the current
 * key is tied for best and rotateOnTie is set, the next tied key after it (cyclic, by label) is chosen.
 */
export function rankKeys(rows: readonly RankCandidate[], opts: RankOptions): RankResult {
  const eligible = (s: HealthStatus) => s === 'healthy' || (opts.includeWarn && s === 'warn');
  const excluded = rows
    .filter((r) => !eligible(r.status))
    .map((r) => ({ label: r.label, status: r.status }));
  const sorted = rows
    .filter((r) => eligible(r.status))
    .map((r) => ({ ...r, usedPct: tighterUsedPct(r) }))
    .sort(compare);
  if (sorted.length === 0) {
    return {
      choice: null,
      ranked: [],
      excluded,
      unchanged: false,
      reasonKey: opts.includeWarn
        ? 'rotation.reason.noEligibleWithWarn'
        : 'rotation.reason.noEligible',
      reasonParams: { total: rows.length },
    };
  }
  const top = sorted[0] as (typeof sorted)[number];
  const ranked: RankedKey[] = sorted.map((r, i) => ({
    ...r,
    rank: i + 1,
    tiedForBest: tied(r, top),
  }));
  const best = ranked[0] as RankedKey;
  const tiedGroup = ranked.filter((r) => r.tiedForBest);
  const current =
    opts.currentLabel === null ? undefined : ranked.find((r) => r.label === opts.currentLabel);
  const done = (choice: RankedKey, reasonKey: MessageKey, extra: Params = {}): RankResult => ({
    choice: choice.label,
    ranked,
    excluded,
    unchanged: choice.label === opts.currentLabel,
    reasonKey,
    reasonParams: {
      label: choice.label,
      status: ref(`health.status.${choice.status}`),
      used: usedText(choice.usedPct),
      priority: choice.priority,
      ...extra,
    },
  });

  if (current?.tiedForBest && tiedGroup.length > 1) {
    if (!opts.rotateOnTie) {
      return done(current, 'rotation.reason.tieKeep', {
        current: current.label,
        count: tiedGroup.length,
      });
    }
    const cycle = tiedGroup.map((r) => r.label).sort(byLabel);
    const nextLabel = cycle[(cycle.indexOf(current.label) + 1) % cycle.length] as string;
    const next = tiedGroup.find((r) => r.label === nextLabel) as RankedKey;
    return done(next, 'rotation.reason.tieNext', {
      current: current.label,
      count: tiedGroup.length,
    });
  }
  if (ranked.length === 1) return done(best, 'rotation.reason.only');
  if (current !== undefined && current.label === best.label)
    return done(best, 'rotation.reason.currentBest');
  const second = ranked[1] as RankedKey;
  if (STATUS_ORDER[best.status] !== STATUS_ORDER[second.status])
    return done(best, 'rotation.reason.bestStatus');
  if (best.usedPct !== second.usedPct) {
    return done(best, 'rotation.reason.lowestUsage', {
      otherUsed: usedText(second.usedPct),
      other: second.label,
    });
  }
  if (best.priority !== second.priority) {
    return done(best, 'rotation.reason.priority', {
      other: second.label,
      otherPriority: second.priority,
    });
  }
  return done(best, 'rotation.reason.leastRecent', { count: tiedGroup.length });
}
