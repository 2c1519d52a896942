import { describe, expect, it } from 'vitest';
import { formatZoned, parseUserTime, zoneOffsetMinutes } from './zoned-time.js';

const T = Date.UTC(2026, 6, 1, 12, 30, 5);

describe('zoned time', () => {
  it('formats in UTC, fixed offsets and IANA zones', () => {
    expect(formatZoned(T, 'UTC')).toBe('2026-07-01 12:30:05 +0000');
    expect(formatZoned(T, '+03:00')).toBe('2026-07-01 15:30:05 +0300');
    expect(formatZoned(T, '-05:30')).toBe('2026-07-01 07:00:05 -0530');
    expect(formatZoned(T, 'Europe/Berlin')).toBe('2026-07-01 14:30:05 +0200');
    expect(formatZoned(Date.UTC(2026, 0, 1, 12), 'Europe/Berlin')).toBe(
      '2026-01-01 13:00:00 +0100',
    );
  });

  it('knows DST offsets', () => {
    expect(zoneOffsetMinutes(T, 'America/New_York')).toBe(-240);
    expect(zoneOffsetMinutes(Date.UTC(2026, 0, 1), 'America/New_York')).toBe(-300);
  });

  it('parses user times with and without offsets', () => {
    expect(parseUserTime('2026-07-01T12:30:05Z', 'UTC')).toBe(T);
    expect(parseUserTime('2026-07-01 15:30:05', '+03:00')).toBe(T);
    expect(parseUserTime('2026-07-01T14:30:05', 'Europe/Berlin')).toBe(T);
    expect(parseUserTime('2026-07-01T15:30:05+03:00', 'UTC')).toBe(T);
    expect(parseUserTime('yesterday', 'UTC')).toBeNull();
  });
});
