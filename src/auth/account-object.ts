// Turns a parsed TOML/JSON document into one account: a [providers.NAME] table chosen by preference, or flat fields.
import { ref } from '../ui/i18n/index.js';
import type { AuthEntry } from './entry.js';
import { SkipFile } from './entry.js';
import {
  isUsableApiKey,
  optionalBaseUrl,
  optionalDisabled,
  optionalEmail,
  optionalLabel,
  optionalPriority,
  requireApiKey,
  typeRef,
} from './fields.js';

/** Providers tried first, in this order; the others follow in file order. */
export const PREFERRED_PROVIDERS: readonly string[] = [
  'managed:kimi-code',
  'kimi-for-coding',
  'moonshot-ai',
];

export type PlainObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is PlainObject {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
  );
}

function own(obj: PlainObject, name: string): unknown {
  return Object.hasOwn(obj, name) ? obj[name] : undefined;
}

/**
 * Read one account from a document. With a `providers` table the key comes from the first provider
 * (by preference, then file order) holding a usable `api_key`; otherwise from a top-level `api_key`.
 * Top-level `label`, `priority`, `disabled` and `email` apply in both layouts.
 */
export function accountFromObject(
  root: PlainObject,
  allowlist: readonly string[],
  noKeyWarning: 'auth.warn.noProvider' | 'auth.warn.missingKey',
): AuthEntry {
  const account = keyAndProvider(root, allowlist, noKeyWarning);
  return {
    ...account,
    label: optionalLabel(own(root, 'label'), 'label'),
    priority: optionalPriority(own(root, 'priority'), 'priority'),
    disabled: optionalDisabled(own(root, 'disabled'), 'disabled'),
    email: optionalEmail(own(root, 'email'), 'email'),
  };
}

function keyAndProvider(
  root: PlainObject,
  allowlist: readonly string[],
  noKeyWarning: 'auth.warn.noProvider' | 'auth.warn.missingKey',
): Pick<AuthEntry, 'apiKey' | 'baseUrl' | 'provider'> {
  const providers = own(root, 'providers');
  if (providers !== undefined) {
    if (!isPlainObject(providers)) {
      throw new SkipFile('auth.warn.badType', {
        field: 'providers',
        expected: ref('auth.expect.table'),
        found: typeRef(providers),
      });
    }
    const { name, table, apiKey } = pickProvider(providers);
    const baseUrl = optionalBaseUrl(
      own(table, 'base_url'),
      `providers.${name}.base_url`,
      allowlist,
    );
    return {
      apiKey,
      baseUrl,
      provider: { name, table: Object.freeze({ ...table, api_key: apiKey }) },
    };
  }
  if (own(root, 'api_key') === undefined && noKeyWarning === 'auth.warn.noProvider') {
    throw new SkipFile('auth.warn.noProvider');
  }
  return {
    apiKey: requireApiKey(own(root, 'api_key'), 'api_key'),
    baseUrl: optionalBaseUrl(own(root, 'base_url'), 'base_url', allowlist),
    provider: null,
  };
}

function pickProvider(providers: PlainObject): {
  name: string;
  table: PlainObject;
  apiKey: string;
} {
  const names = Object.keys(providers).filter((n) => isPlainObject(providers[n]));
  const ordered = [
    ...PREFERRED_PROVIDERS.filter((n) => names.includes(n)),
    ...names.filter((n) => !PREFERRED_PROVIDERS.includes(n)),
  ];
  for (const name of ordered) {
    const table = providers[name] as PlainObject;
    const value = own(table, 'api_key');
    if (isUsableApiKey(value)) return { name, table, apiKey: (value as string).trim() };
  }
  const first = ordered[0];
  if (first === undefined) throw new SkipFile('auth.warn.noProvider');
  // No provider is usable: explain what is wrong with the one that would have been chosen.
  requireApiKey(own(providers[first] as PlainObject, 'api_key'), `providers.${first}.api_key`);
  throw new SkipFile('auth.warn.noProvider');
}
