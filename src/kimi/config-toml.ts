// The Kimi CLI config.toml: find the key it uses, and point it at another account by merging (backup first, atomic, 0600).
import { maskSecretsInText } from '../auth/mask.js';
import { chmod, copyFile, lstat, mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parse, stringify, TomlDate } from 'smol-toml';
import type { KeyRecord } from '../auth/types.js';
import { KmiError } from '../errors.js';
import { errnoCode, writeFileAtomicSecure } from '../files/secure.js';

/** A parsed config.toml. Integers are BigInt (so they are written back as integers), floats numbers. */
export type KimiConfig = Record<string, unknown>;

export const DEFAULT_PROVIDER = 'kimi-for-coding';
export const DEFAULT_MODEL = 'kimi-for-coding';
export const DEFAULT_MAX_CONTEXT_SIZE = 262144n;
export const DEFAULT_UPSTREAM = 'https://api.kimi.com/coding/v1';
export const BACKUPS_KEPT = 5;
const SEARCH_SERVICES = ['moonshot_search', 'moonshot_fetch'] as const;

function isTable(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof TomlDate)
  );
}

function own(table: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

function reasonOf(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  // smol-toml errors quote the offending line, which may hold a key; keep the first line, masked.
  return maskSecretsInText(raw.split('\n')[0] ?? raw).slice(0, 200);
}

/** Parse config text; an unparsable file is a KMI_E_KIMI_CONFIG error naming the file. */
export function parseKimiConfig(text: string, file: string): KimiConfig {
  try {
    return parse(text.replace(/^\uFEFF/, ''), { integersAsBigInt: true }) as KimiConfig;
  } catch (err) {
    throw new KmiError(
      'KMI_E_KIMI_CONFIG',
      'kimi.configUnparsable',
      { file, reason: reasonOf(err) },
      { cause: err },
    );
  }
}

/** Read and parse the config; null when the file does not exist. */
export async function readKimiConfig(path: string): Promise<KimiConfig | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw new KmiError(
      'KMI_E_KIMI_CONFIG',
      'kimi.configUnreadable',
      { file: path, reason: reasonOf(err) },
      { cause: err },
    );
  }
  return parseKimiConfig(text, path);
}

/** The provider `default_model` uses (`models[default_model].provider`), else `kimi-for-coding`. */
export function activeProviderName(config: KimiConfig): string {
  const model = own(config, 'default_model');
  const models = own(config, 'models');
  if (typeof model === 'string' && isTable(models)) {
    const entry = own(models, model);
    if (isTable(entry)) {
      const provider = own(entry, 'provider');
      if (typeof provider === 'string' && provider !== '') return provider;
    }
  }
  return DEFAULT_PROVIDER;
}

export interface KimiCurrentKey {
  readonly apiKey: string;
  readonly providerName: string;
  /** default_model, when set. */
  readonly model: string | null;
  readonly baseUrl: string | null;
}

/** `default_model` → its model's `provider` → that provider's `api_key` (else the `kimi-for-coding` provider's). */
export function currentKeyFromKimiConfig(config: KimiConfig | null): KimiCurrentKey | null {
  if (config === null) return null;
  const providers = own(config, 'providers');
  if (!isTable(providers)) return null;
  const providerName = activeProviderName(config);
  const table = own(providers, providerName);
  if (!isTable(table)) return null;
  const apiKey = own(table, 'api_key');
  if (typeof apiKey !== 'string' || apiKey.trim() === '') return null;
  const model = own(config, 'default_model');
  const baseUrl = own(table, 'base_url');
  return {
    apiKey: apiKey.trim(),
    providerName,
    model: typeof model === 'string' ? model : null,
    baseUrl: typeof baseUrl === 'string' ? baseUrl : null,
  };
}

/** The pool key the config uses, or null when it uses none of them. */
export function findCurrentKey<K extends Pick<KeyRecord, 'apiKey'>>(
  keys: readonly K[],
  config: KimiConfig | null,
): K | null {
  const current = currentKeyFromKimiConfig(config);
  if (current === null) return null;
  return keys.find((k) => k.apiKey === current.apiKey) ?? null;
}

export interface CurrentKeyLookup {
  /** Label of the pool key in the config, or null. */
  readonly label: string | null;
  /** The key found in the config (may be outside the pool), or null. */
  readonly current: KimiCurrentKey | null;
  /** Why the config could not be read; dashboards show it and carry on. */
  readonly error: KmiError | null;
}

/** Read the config at `path` and find its key among `keys`. Never throws for a bad or missing file. */
export async function lookupCurrentKey(
  path: string,
  keys: readonly Pick<KeyRecord, 'apiKey' | 'label'>[],
): Promise<CurrentKeyLookup> {
  try {
    const config = await readKimiConfig(path);
    const current = currentKeyFromKimiConfig(config);
    const found = current === null ? null : (keys.find((k) => k.apiKey === current.apiKey) ?? null);
    return { label: found?.label ?? null, current, error: null };
  } catch (err) {
    if (err instanceof KmiError) return { label: null, current: null, error: err };
    throw err;
  }
}

/** JSON numbers that are whole become TOML integers (BigInt), recursively; everything else is kept. */
function tomlValue(value: unknown): unknown {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map(tomlValue);
  if (isTable(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      if (v !== null && v !== undefined) define(out, k, tomlValue(v));
    return out;
  }
  return value;
}

function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function ensureTable(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const existing = own(parent, key);
  if (isTable(existing)) return existing;
  const created: Record<string, unknown> = {};
  define(parent, key, created);
  return created;
}

export interface MergeResult {
  readonly config: KimiConfig;
  /** The provider table that now holds the account. */
  readonly providerName: string;
  /** Service tables whose api_key was updated. */
  readonly services: readonly string[];
}

/**
 * Point `config` (null = new file) at `key`, in place of whatever account its active provider held.
 * A .toml/.json account replaces the whole provider table; a .env account sets api_key and base_url.
 * Everything else is kept. Pure apart from mutating (a copy of) `config`.
 */
export function mergeKimiConfig(
  config: KimiConfig | null,
  key: Pick<KeyRecord, 'apiKey' | 'baseUrl' | 'provider'>,
  upstreamBaseUrl: string = DEFAULT_UPSTREAM,
): MergeResult {
  const out: KimiConfig = config === null ? {} : (structuredCloneToml(config) as KimiConfig);
  if (typeof own(out, 'default_model') !== 'string') define(out, 'default_model', DEFAULT_MODEL);
  const modelName = own(out, 'default_model') as string;
  const models = ensureTable(out, 'models');
  const model = ensureTable(models, modelName);
  if (typeof own(model, 'provider') !== 'string' || own(model, 'provider') === '')
    define(model, 'provider', DEFAULT_PROVIDER);
  if (own(model, 'model') === undefined) define(model, 'model', modelName);
  if (own(model, 'max_context_size') === undefined)
    define(model, 'max_context_size', DEFAULT_MAX_CONTEXT_SIZE);
  const providerName = activeProviderName(out);
  const providers = ensureTable(out, 'providers');
  const previous = own(providers, providerName);
  const before = isTable(previous) ? previous : {};
  let table: Record<string, unknown>;
  if (key.provider !== null) {
    table = tomlValue(key.provider.table) as Record<string, unknown>;
    if (own(table, 'type') === undefined) define(table, 'type', own(before, 'type') ?? 'kimi');
    if (typeof own(table, 'base_url') !== 'string')
      define(table, 'base_url', key.baseUrl ?? upstreamBaseUrl);
  } else {
    table = { ...before };
    if (own(table, 'type') === undefined) define(table, 'type', 'kimi');
    define(table, 'base_url', key.baseUrl ?? upstreamBaseUrl);
  }
  define(table, 'api_key', key.apiKey);
  define(providers, providerName, table);
  const services: string[] = [];
  const serviceTables = own(out, 'services');
  if (isTable(serviceTables)) {
    for (const name of SEARCH_SERVICES) {
      const service = own(serviceTables, name);
      if (isTable(service)) {
        define(service, 'api_key', key.apiKey);
        services.push(name);
      }
    }
  }
  return { config: out, providerName, services };
}

/** Deep copy of parsed TOML (tables, arrays, BigInt, TomlDate). */
function structuredCloneToml(value: unknown): unknown {
  if (value instanceof TomlDate) return value;
  if (Array.isArray(value)) return value.map(structuredCloneToml);
  if (isTable(value)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) define(out, k, structuredCloneToml(value[k]));
    return out;
  }
  return value;
}

/** Serialise a config; integers stay integers, floats stay floats. */
export function stringifyKimiConfig(config: KimiConfig): string {
  return stringify(config, { numbersAsFloat: true });
}

/** `YYYYMMDDTHHMMSSZ` of `ms`, the backup name's stamp. */
export function backupStamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

const BACKUP_SUFFIX = /^\.kmi-backup-(\d{8}T\d{6}Z)(?:-(\d+))?$/;

/** Backups of `path` (full paths), oldest first. */
export async function listKimiConfigBackups(path: string): Promise<string[]> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(base) && BACKUP_SUFFIX.test(n.slice(base.length)))
    .map((n) => {
      const m = BACKUP_SUFFIX.exec(n.slice(base.length)) as RegExpExecArray;
      return { n, stamp: m[1] as string, seq: m[2] === undefined ? 0 : Number(m[2]) };
    })
    .sort((a, b) => (a.stamp !== b.stamp ? (a.stamp < b.stamp ? -1 : 1) : a.seq - b.seq))
    .map((b) => join(dir, b.n));
}

async function backup(path: string, now: number): Promise<string> {
  const base = `${path}.kmi-backup-${backupStamp(now)}`;
  let target = base;
  // Never overwrite an older backup taken in the same second.
  for (let n = 1; await exists(target); n++) target = `${base}-${n}`;
  // Copy to a temp name and rename, so a backup is never seen half-written.
  const temp = `${target}.tmp-${process.pid}`;
  try {
    await copyFile(path, temp);
    // The backup holds a key: private whatever the original's mode was.
    if (process.platform !== 'win32') await chmod(temp, 0o600);
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  return target;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

async function pruneBackups(path: string, keep: number): Promise<string[]> {
  const all = await listKimiConfigBackups(path);
  const old = all.slice(0, Math.max(0, all.length - keep));
  const removed: string[] = [];
  for (const file of old) {
    try {
      await unlink(file);
      removed.push(file);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
  return removed;
}

export interface WriteKimiConfigInput {
  readonly path: string;
  readonly key: Pick<KeyRecord, 'apiKey' | 'baseUrl' | 'provider'>;
  /** KMI_ENFORCE_FILE_PERMS: the file ends up 0600. A new file is created 0600 either way. */
  readonly enforcePerms: boolean;
  /** ms; used for the backup's name. */
  readonly now: number;
  /** Base URL for a .env account without its own (KMI_UPSTREAM_BASE_URL). */
  readonly upstreamBaseUrl?: string;
  readonly keepBackups?: number;
}

export interface WriteKimiConfigResult {
  readonly path: string;
  /** The copy of the previous file, or null when there was none. */
  readonly backupPath: string | null;
  readonly created: boolean;
  readonly providerName: string;
  readonly services: readonly string[];
  /** Old backups deleted to keep the last `keepBackups`. */
  readonly removedBackups: readonly string[];
}

/**
 * Write `key` into the Kimi config at `path`: back up the existing file, merge, and replace it
 * atomically. An unparsable file is left untouched (KMI_E_KIMI_CONFIG).
 */
export async function writeKimiConfig(input: WriteKimiConfigInput): Promise<WriteKimiConfigResult> {
  const { path } = input;
  const existing = await readKimiConfig(path); // throws, touching nothing, when unparsable
  const created = existing === null;
  const merged = mergeKimiConfig(existing, input.key, input.upstreamBaseUrl ?? DEFAULT_UPSTREAM);
  const text = stringifyKimiConfig(merged.config);
  const fail = (err: unknown) =>
    new KmiError(
      'KMI_E_KIMI_CONFIG',
      'kimi.configWriteFailed',
      { file: path, reason: reasonOf(err) },
      { cause: err },
    );
  let backupPath: string | null = null;
  let removedBackups: string[] = [];
  try {
    if (created) {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    } else {
      backupPath = await backup(path, input.now);
      removedBackups = await pruneBackups(path, input.keepBackups ?? BACKUPS_KEPT);
    }
    await writeFileAtomicSecure(path, text, input.enforcePerms || created);
  } catch (err) {
    throw fail(err);
  }
  return {
    path,
    backupPath,
    created,
    providerName: merged.providerName,
    services: merged.services,
    removedBackups,
  };
}
