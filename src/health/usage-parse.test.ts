import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../test/helpers/kmi.js';
import {
  excerpt,
  parseUsageBody,
  parseUsageText,
  parseWindow,
  toNumber,
  toResetAt,
  windowMinutes,
} from './usage-parse.js';

const fixture = (name: string) =>
  readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'usages', name), 'utf8');

function snapshotOf(name: string) {
  const parsed = parseUsageText(fixture(name));
  if (!parsed.ok) throw new Error(`expected ok for ${name}: ${parsed.detail}`);
  return parsed.snapshot;
}

describe('parseUsageText: shape A (usage + limits[])', () => {
  it('reads the weekly window and the 300-minute window, numbers as strings', () => {
    const s = snapshotOf('shape-a.json');
    expect(s.weekly).toEqual({
      limit: 2048,
      used: 214,
      remaining: 1834,
      remainingRatio: 1834 / 2048,
      resetAt: '2026-01-09T15:23:13Z',
    });
    expect(s.fiveHour).toEqual({
      limit: 200,
      used: 50,
      remaining: 150,
      remainingRatio: 0.75,
      resetAt: '2026-01-06T13:33:02Z',
    });
    expect(s.synthetic).toBeUndefined();
  });

  it('accepts plain numbers, hour units and epoch-second resets; ignores other windows', () => {
    const s = snapshotOf('shape-a-hours-numbers.json');
    expect(s.weekly?.remainingRatio).toBeCloseTo(0.1);
    // The 1-day window (remaining 0) must not be taken for the 5-hour one.
    expect(s.fiveHour).toEqual({
      limit: 10,
      used: 7,
      remaining: 3,
      remainingRatio: 0.3,
      resetAt: '2026-01-06T13:30:00Z',
    });
  });

  it('an exhausted 5-hour window reads as remaining 0', () => {
    const s = snapshotOf('shape-a-exhausted-5h.json');
    expect(s.fiveHour?.remaining).toBe(0);
    expect(s.fiveHour?.remainingRatio).toBe(0);
    expect(s.weekly?.remainingRatio).toBeCloseTo(1048 / 2048);
  });

  it('missing or malformed fields become unknown, never a crash', () => {
    const s = snapshotOf('shape-a-missing-fields.json');
    expect(s.weekly).toBeNull();
    // The first usable 5-hour entry wins: limit 200, used 150 → 50 remaining.
    expect(s.fiveHour).toEqual({
      limit: 200,
      used: 150,
      remaining: 50,
      remainingRatio: 0.25,
      resetAt: null,
    });
  });
});

describe('parseUsageText: shape B (usages map / list)', () => {
  it('reads limit_5h and limit_7d from a map with used_ratio and reset_time', () => {
    const s = snapshotOf('shape-b-map.json');
    expect(s.fiveHour?.remainingRatio).toBeCloseTo(0.65);
    expect(s.fiveHour?.resetAt).toBe('2026-01-06T13:00:00Z');
    expect(s.fiveHour?.limit).toBeNull();
    expect(s.weekly?.remainingRatio).toBeCloseTo(0.1);
    expect(s.weekly?.resetAt).toBe('2026-01-09T12:00:00Z');
  });

  it('reads a list of {name|scope, …}; over-used ratios clamp to 0; zone-less times are UTC', () => {
    const s = snapshotOf('shape-b-array.json');
    expect(s.fiveHour?.remainingRatio).toBe(0);
    expect(s.weekly?.remainingRatio).toBeCloseTo(0.9);
    expect(s.weekly?.resetAt).toBe('2026-01-12T00:00:00Z');
  });

  it('looks inside a `data` wrapper', () => {
    const s = snapshotOf('wrapped-data.json');
    expect(s.weekly?.remainingRatio).toBeCloseTo(0.5);
    expect(s.fiveHour).toBeNull();
  });
});

describe('parseUsageText: degraded and bad payloads', () => {
  it('an object with nothing known is a success with unknown windows', () => {
    expect(snapshotOf('empty-object.json')).toEqual({ fiveHour: null, weekly: null });
    expect(snapshotOf('wrong-types.json')).toEqual({ fiveHour: null, weekly: null });
  });

  it.each([
    ['garbage-list.json', 'a list'],
    ['garbage-string.json', 'a string'],
    ['garbage-number.json', 'a number'],
    ['garbage-null.json', 'null'],
  ])('%s is a bad payload (%s)', (name, kind) => {
    const parsed = parseUsageText(fixture(name));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.detail).toContain(kind);
    expect(parsed.detail.length).toBeLessThan(140);
    expect(parsed.detail).not.toMatch(/sk-live/);
  });

  it('non-JSON text is a bad payload with a short, masked excerpt', () => {
    const parsed = parseUsageText(`<html>oops sk-abcdefghijklmnopqrstu ${'x'.repeat(500)}</html>`);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.detail).toMatch(/^not JSON: <html>oops sk-a…rstu x+…$/);
    expect(parsed.detail.length).toBeLessThan(120);
    const empty = parseUsageText('');
    expect(empty.ok).toBe(false);
  });

  it('parseUsageBody never throws on odd inputs', () => {
    for (const body of [
      undefined,
      true,
      0,
      '',
      [],
      {},
      { usage: [] },
      { limits: [{ window: 'x' }] },
      { usages: [null, 1, 'a'] },
    ]) {
      expect(() => parseUsageBody(body)).not.toThrow();
    }
  });
});

describe('field helpers', () => {
  it('toNumber accepts numbers and numeric strings only', () => {
    expect(toNumber('12')).toBe(12);
    expect(toNumber(' 3.5 ')).toBe(3.5);
    expect(toNumber(7)).toBe(7);
    expect(toNumber('12abc')).toBeNull();
    expect(toNumber('')).toBeNull();
    expect(toNumber(Number.NaN)).toBeNull();
    expect(toNumber(null)).toBeNull();
  });

  it('toResetAt reads ISO, epoch seconds and epoch milliseconds', () => {
    expect(toResetAt('2026-01-06T13:33:02.5+03:00')).toBe('2026-01-06T10:33:02Z');
    expect(toResetAt(1767706200)).toBe('2026-01-06T13:30:00Z');
    expect(toResetAt('1767706200000')).toBe('2026-01-06T13:30:00Z');
    expect(toResetAt('tomorrow')).toBeNull();
    expect(toResetAt(0)).toBeNull();
  });

  it('windowMinutes understands Kimi time units', () => {
    expect(windowMinutes({ duration: 300, timeUnit: 'TIME_UNIT_MINUTE' })).toBe(300);
    expect(windowMinutes({ duration: '5', timeUnit: 'TIME_UNIT_HOUR' })).toBe(300);
    expect(windowMinutes({ duration: 18000, timeUnit: 'TIME_UNIT_SECOND' })).toBe(300);
    expect(windowMinutes({ duration: 1, timeUnit: 'TIME_UNIT_WEEK' })).toBe(10080);
    expect(windowMinutes({ duration: 300, timeUnit: 'FORTNIGHT' })).toBeNull();
    expect(windowMinutes(null)).toBeNull();
  });

  it('parseWindow derives missing numbers and handles a zero limit', () => {
    expect(parseWindow({ limit: '100', remaining: '40' })).toMatchObject({
      used: 60,
      remainingRatio: 0.4,
    });
    expect(parseWindow({ used: 30, remaining: 70 })).toMatchObject({
      limit: 100,
      remainingRatio: 0.7,
    });
    expect(parseWindow({ limit: 0, used: 0 })).toMatchObject({ remainingRatio: 0 });
    expect(parseWindow({ remaining_ratio: '0.25' })).toMatchObject({ remainingRatio: 0.25 });
    expect(parseWindow({})).toBeNull();
  });

  it('excerpt masks keys and flattens whitespace', () => {
    expect(excerpt('a\n\n  b sk-ABCDEFGH1234567 c')).toBe('a b sk-A…4567 c');
  });
});
