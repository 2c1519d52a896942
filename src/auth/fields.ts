// Checks shared by every auth file format: the api key itself and the optional label, priority, disabled, email and base_url.
import { parseBool } from '../config/load.js';
import { checkUpstreamUrl } from '../config/upstream.js';
import { ref, type MessageRef } from '../ui/i18n/index.js';
import { SkipFile } from './entry.js';
import { maskKey } from './mask.js';

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
const INTEGER = /^[+-]?\d{1,15}$/;

/** The translated name of a value's type, for "found {found}" messages. */
export function typeRef(value: unknown): MessageRef {
  if (value === null) return ref('auth.type.null');
  if (Array.isArray(value)) return ref('auth.type.array');
  switch (typeof value) {
    case 'string':
      return ref('auth.type.string');
    case 'number':
    case 'bigint':
      return ref('auth.type.number');
    case 'boolean':
      return ref('auth.type.boolean');
    case 'object':
      return value instanceof Date ? ref('auth.type.date') : ref('auth.type.object');
    default:
      return ref('auth.type.other');
  }
}

/**
 * A rejected value as shown in a warning: short values as they are, long ones masked, so a key
 * pasted into the wrong field never reaches a message.
 */
export function displayValue(raw: string): string {
  const clean = raw.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
  return clean.length > 16 ? maskKey(clean) : clean;
}

/** The api key: a non-empty string of printable ASCII (it goes into an Authorization header). */
export function requireApiKey(value: unknown, field: string): string {
  if (value === undefined) throw new SkipFile('auth.warn.missingKey', { field });
  if (value === null) throw new SkipFile('auth.warn.nullKey', { field });
  if (typeof value !== 'string') {
    throw new SkipFile('auth.warn.keyNotString', { field, found: typeRef(value) });
  }
  const key = value.trim();
  if (key === '') throw new SkipFile('auth.warn.missingKey', { field });
  if (!PRINTABLE_ASCII.test(key)) throw new SkipFile('auth.warn.keyBadChars', { field });
  return key;
}

/** True when `value` would pass requireApiKey. */
export function isUsableApiKey(value: unknown): boolean {
  return typeof value === 'string' && PRINTABLE_ASCII.test(value.trim());
}

function badType(field: string, expected: MessageRef, value: unknown): SkipFile {
  return new SkipFile('auth.warn.badType', { field, expected, found: typeRef(value) });
}

function badValue(field: string, expected: MessageRef, raw: string): SkipFile {
  return new SkipFile('auth.warn.badValue', { field, expected, got: displayValue(raw) });
}

/** An explicit label, or null when absent or blank. */
export function optionalLabel(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw badType(field, ref('auth.expect.string'), value);
  const label = value.trim();
  if (label === '') return null;
  if (CONTROL.test(label)) throw badValue(field, ref('auth.expect.label'), label);
  return label;
}

/** Priority: a whole number, may be negative; absent or blank means 0. */
export function optionalPriority(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return value;
    throw badValue(field, ref('auth.expect.integer'), String(value));
  }
  if (typeof value === 'bigint') {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
    throw badValue(field, ref('auth.expect.integer'), String(value));
  }
  if (typeof value !== 'string') throw badType(field, ref('auth.expect.integer'), value);
  const raw = value.trim();
  if (raw === '') return 0;
  if (!INTEGER.test(raw)) throw badValue(field, ref('auth.expect.integer'), raw);
  return Number(raw);
}

/** Disabled: a boolean, 0/1, or one of the config booleans; absent or blank means false. */
export function optionalDisabled(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (value === 0 || value === 1) return value === 1;
    throw badValue(field, ref('config.expect.bool'), String(value));
  }
  if (typeof value !== 'string') throw badType(field, ref('config.expect.bool'), value);
  const raw = value.trim();
  if (raw === '') return false;
  const parsed = parseBool(raw);
  if (parsed === undefined) throw badValue(field, ref('config.expect.bool'), raw);
  return parsed;
}

/** An account e-mail shown in tables, or null. */
export function optionalEmail(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw badType(field, ref('auth.expect.string'), value);
  const email = value.trim();
  if (email === '') return null;
  if (CONTROL.test(email)) throw badValue(field, ref('auth.expect.label'), email);
  return email;
}

/** The key's own upstream base URL, normalised, after the same https/allowlist checks as KMI_UPSTREAM_BASE_URL. */
export function optionalBaseUrl(
  value: unknown,
  field: string,
  allowlist: readonly string[],
): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw badType(field, ref('auth.expect.string'), value);
  if (value.trim() === '') return null;
  const check = checkUpstreamUrl(value, allowlist);
  if (!check.ok) {
    // The URL itself is not shown: it might carry credentials (user:password@).
    throw new SkipFile('auth.warn.badBaseUrl', {
      field,
      expected: ref(`config.expect.upstream.${check.problem}`),
    });
  }
  return check.url;
}
