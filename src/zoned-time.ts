// Wall-clock time in KMI_TIMEZONE ('local', 'UTC', '+03:00' or IANA) as `YYYY-MM-DD HH:MM:SS +HHMM`.

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `timezone` from UTC at instant `ms`, in minutes (east positive). */
export function zoneOffsetMinutes(ms: number, timezone: string): number {
  if (timezone === 'UTC') return 0;
  if (timezone === 'local') return -new Date(ms).getTimezoneOffset();
  const fixed = /^([+-])(\d\d):(\d\d)$/.exec(timezone);
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3]));
  let fmt = formatters.get(timezone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timezone, fmt);
  }
  const parts: Record<string, number> = {};
  for (const p of fmt.formatToParts(new Date(ms)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
}

const two = (n: number) => String(n).padStart(2, '0');

/** `2026-11-25 14:03:09 +0300` */
export function formatZoned(ms: number, timezone: string): string {
  const offset = zoneOffsetMinutes(ms, timezone);
  const d = new Date(ms + offset * 60_000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return (
    `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ` +
    `${sign}${two(Math.floor(abs / 60))}${two(abs % 60)}`
  );
}

/** Short form for tables: `2026-11-25 14:03 +0300`. */
export function formatZonedShort(ms: number, timezone: string): string {
  const full = formatZoned(ms, timezone);
  return full.slice(0, 16) + full.slice(19);
}

/**
 * Parse a time a user typed: ISO with offset or Z is absolute; without offset it is read in
 * `timezone`. Returns null when it is not a time.
 */
export function parseUserTime(text: string, timezone: string): number | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?\s*(Z|[+-]\d\d:?\d\d)?$/i.exec(
    text.trim(),
  );
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', zone] = m;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(wall)) return null;
  if (zone !== undefined) {
    if (zone.toUpperCase() === 'Z') return wall;
    const zm = /^([+-])(\d\d):?(\d\d)$/.exec(zone);
    if (!zm) return null;
    const off = (zm[1] === '-' ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3]));
    return wall - off * 60_000;
  }
  // Two passes settle the offset around DST changes.
  let guess = wall - zoneOffsetMinutes(wall, timezone) * 60_000;
  guess = wall - zoneOffsetMinutes(guess, timezone) * 60_000;
  return guess;
}
