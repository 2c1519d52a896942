import { describe, expect, it } from 'vitest';
import { t } from '../ui/i18n/index.js';
import { rankKeys, tighterUsedPct, type RankCandidate, type RankResult } from './rank.js';

const now = Date.UTC(2026, 0, 5, 12);
const c = (label: string, over: Partial<RankCandidate> = {}): RankCandidate => ({
  label,
  status: 'healthy',
  fiveHourRemainingPct: 80,
  weeklyRemainingPct: 80,
  priority: 0,
  lastUsed: null,
  ...over,
});
const opts = (over: Partial<Parameters<typeof rankKeys>[1]> = {}) => ({
  includeWarn: false,
  rotateOnTie: true,
  currentLabel: null,
  now,
  ...over,
});
function rendered(r: RankResult) {
  for (const locale of ['en', 'ru'] as const) {
    const text = t(r.reasonKey, r.reasonParams, locale);
    expect(text).not.toMatch(/\{\w+\}|rotation\.reason|health\.status/);
  }
  return t(r.reasonKey, r.reasonParams, 'en');
}

describe('tighterUsedPct', () => {
  it('is the used % of the more-used window', () => {
    expect(tighterUsedPct({ fiveHourRemainingPct: 30, weeklyRemainingPct: 90 })).toBe(70);
    expect(tighterUsedPct({ fiveHourRemainingPct: null, weeklyRemainingPct: 55.55 })).toBe(44.5);
    expect(tighterUsedPct({ fiveHourRemainingPct: null, weeklyRemainingPct: null })).toBeNull();
  });
});

describe('rankKeys', () => {
  it('no eligible key → null choice, with the reason', () => {
    const r = rankKeys([c('a', { status: 'warn' }), c('b', { status: 'blocked' })], opts());
    expect(r.choice).toBeNull();
    expect(r.ranked).toEqual([]);
    expect(r.excluded).toEqual([
      { label: 'a', status: 'warn' },
      { label: 'b', status: 'blocked' },
    ]);
    expect(r.reasonKey).toBe('rotation.reason.noEligible');
    expect(rendered(r)).toContain('KMI_ROTATE_INCLUDE_WARN');
    expect(rankKeys([], opts()).choice).toBeNull();
  });

  it('warn keys count only with includeWarn, and always after healthy ones', () => {
    const rows = [
      c('w', { status: 'warn', fiveHourRemainingPct: 99, weeklyRemainingPct: 99 }),
      c('h', { fiveHourRemainingPct: 30 }),
    ];
    expect(rankKeys(rows, opts()).ranked.map((r) => r.label)).toEqual(['h']);
    const r = rankKeys(rows, opts({ includeWarn: true }));
    expect(r.ranked.map((x) => x.label)).toEqual(['h', 'w']);
    expect(r.choice).toBe('h');
    expect(r.reasonKey).toBe('rotation.reason.bestStatus');
    expect(rankKeys([rows[0] as RankCandidate], opts({ includeWarn: true })).choice).toBe('w');
  });

  it('exhausted and blocked keys are never eligible', () => {
    const r = rankKeys(
      [c('x', { status: 'exhausted' }), c('y', { status: 'blocked' })],
      opts({ includeWarn: true }),
    );
    expect(r.choice).toBeNull();
    expect(r.reasonKey).toBe('rotation.reason.noEligibleWithWarn');
  });

  it('prefers the lowest usage of the tighter window (the 5-hour window counts)', () => {
    const rows = [
      c('a', { fiveHourRemainingPct: 25, weeklyRemainingPct: 95 }), // 75 % used
      c('b', { fiveHourRemainingPct: 60, weeklyRemainingPct: 60 }), // 40 % used
      c('c', { fiveHourRemainingPct: 90, weeklyRemainingPct: 50 }), // 50 % used
    ];
    const r = rankKeys(rows, opts());
    expect(r.ranked.map((x) => [x.label, x.usedPct, x.rank])).toEqual([
      ['b', 40, 1],
      ['c', 50, 2],
      ['a', 75, 3],
    ]);
    expect(r.choice).toBe('b');
    expect(r.reasonKey).toBe('rotation.reason.lowestUsage');
    expect(rendered(r)).toBe(
      'b has the lowest usage of its tighter window (40% used; next best c: 50%)',
    );
  });

  it('unknown usage ranks after known usage', () => {
    const r = rankKeys(
      [
        c('u', { fiveHourRemainingPct: null, weeklyRemainingPct: null }),
        c('k', { fiveHourRemainingPct: 21 }),
      ],
      opts(),
    );
    expect(r.choice).toBe('k');
  });

  it('then priority, then least recently used', () => {
    const byPriority = rankKeys([c('a'), c('b', { priority: 5 })], opts());
    expect(byPriority.choice).toBe('b');
    expect(byPriority.reasonKey).toBe('rotation.reason.priority');

    const byLru = rankKeys(
      [
        c('a', { lastUsed: now - 1000 }),
        c('b', { lastUsed: now - 5000 }),
        c('c', { lastUsed: now - 3000 }),
      ],
      opts(),
    );
    expect(byLru.ranked.map((x) => x.label)).toEqual(['b', 'c', 'a']);
    expect(byLru.choice).toBe('b');
    expect(byLru.reasonKey).toBe('rotation.reason.leastRecent');

    const never = rankKeys([c('a', { lastUsed: now - 1000 }), c('b', { lastUsed: null })], opts());
    expect(never.choice).toBe('b');
  });

  it('keeps the current key when it is strictly best', () => {
    const r = rankKeys(
      [
        c('cur', { fiveHourRemainingPct: 90, weeklyRemainingPct: 90 }),
        c('other', { fiveHourRemainingPct: 50 }),
      ],
      opts({ currentLabel: 'cur' }),
    );
    expect(r.choice).toBe('cur');
    expect(r.unchanged).toBe(true);
    expect(r.reasonKey).toBe('rotation.reason.currentBest');
  });

  it('moves past a current key that is no longer eligible', () => {
    const r = rankKeys([c('cur', { status: 'exhausted' }), c('b')], opts({ currentLabel: 'cur' }));
    expect(r.choice).toBe('b');
    expect(r.unchanged).toBe(false);
    expect(r.reasonKey).toBe('rotation.reason.only');
  });

  describe('ties around the current key', () => {
    const tiedRows = [
      c('delta'),
      c('alpha'),
      c('charlie'),
      c('bravo', { fiveHourRemainingPct: 10 + 60 }),
    ];
    // alpha, charlie, delta tie at 20 % used; bravo is 30 % used.

    it('rotateOnTie moves to the next tied key after the current one, by label', () => {
      const r = rankKeys(tiedRows, opts({ currentLabel: 'alpha' }));
      expect(r.choice).toBe('charlie');
      expect(r.reasonKey).toBe('rotation.reason.tieNext');
      expect(
        r.ranked
          .filter((x) => x.tiedForBest)
          .map((x) => x.label)
          .sort(),
      ).toEqual(['alpha', 'charlie', 'delta']);
      expect(rendered(r)).toContain('alpha');
      expect(rankKeys(tiedRows, opts({ currentLabel: 'charlie' })).choice).toBe('delta');
    });

    it('wraps around cyclically', () => {
      expect(rankKeys(tiedRows, opts({ currentLabel: 'delta' })).choice).toBe('alpha');
    });

    it('repeated rotation visits every tied key', () => {
      let current = 'alpha';
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        current = rankKeys(tiedRows, opts({ currentLabel: current })).choice as string;
        seen.push(current);
      }
      expect(seen).toEqual(['charlie', 'delta', 'alpha']);
    });

    it('rotateOnTie=0 keeps the current key', () => {
      const r = rankKeys(tiedRows, opts({ currentLabel: 'charlie', rotateOnTie: false }));
      expect(r.choice).toBe('charlie');
      expect(r.unchanged).toBe(true);
      expect(r.reasonKey).toBe('rotation.reason.tieKeep');
    });

    it('recency does not break a tie with the current key', () => {
      const rows = [
        c('a', { lastUsed: now }),
        c('b', { lastUsed: now - 10_000 }),
        c('z', { lastUsed: now - 99_000 }),
      ];
      expect(rankKeys(rows, opts({ currentLabel: 'a' })).choice).toBe('b');
    });

    it('a current key that is not tied for best does not trigger the tie rule', () => {
      const r = rankKeys(tiedRows, opts({ currentLabel: 'bravo' }));
      expect(r.choice).toBe('alpha');
      expect(r.reasonKey).toBe('rotation.reason.leastRecent');
    });

    it('float noise does not break a tie', () => {
      const rows = [
        c('a', { fiveHourRemainingPct: 100 - 100 * 0.7 }),
        c('b', { fiveHourRemainingPct: 30 }),
      ];
      const r = rankKeys(rows, opts({ currentLabel: 'a' }));
      expect(r.choice).toBe('b');
      expect(r.reasonKey).toBe('rotation.reason.tieNext');
    });

    it('a single eligible current key stays', () => {
      const r = rankKeys([c('solo')], opts({ currentLabel: 'solo' }));
      expect(r.choice).toBe('solo');
      expect(r.unchanged).toBe(true);
    });
  });
});
