// loadAuthRegistry: discovers, reads and parses every auth file, then de-duplicates, labels and orders the keys.
import { discoverAuthFiles, type AuthFileCandidate } from './discover.js';
import type { FileNote, ParseOutcome } from './entry.js';
import { LabelAllocator, labelFromPath } from './labels.js';
import { keyHash, maskKey } from './mask.js';
import { parseEnvAuth } from './parse-env.js';
import { parseJsonAuth } from './parse-json.js';
import { parseTomlAuth } from './parse-toml.js';
import { readAuthFile } from './read.js';
import type { AuthRegistry, AuthWarning, DuplicateKey, KeyRecord } from './types.js';

export interface LoadAuthRegistryOptions {
  /** The auth folder (KMI_AUTHS_DIR). */
  readonly dir: string;
  /** KMI_UPSTREAM_ALLOWLIST, applied to each key's own base_url. */
  readonly upstreamAllowlist: readonly string[];
}

/** Files read at once; enough to overlap I/O without running out of descriptors on a huge folder. */
const READ_CONCURRENCY = 16;

/**
 * Load every key in `dir` and one level of sub-folders. Never throws for a bad or missing file: a
 * file that cannot be used is skipped with one warning naming it, and a missing folder gives
 * `dirExists: false`. Warnings never contain a key, only its masked form.
 */
export async function loadAuthRegistry(opts: LoadAuthRegistryOptions): Promise<AuthRegistry> {
  const discovery = await discoverAuthFiles(opts.dir);
  const warnings: AuthWarning[] = discovery.notes.map((n) => warning(n.path, n));
  const outcomes = await mapLimited(discovery.files, READ_CONCURRENCY, (file) =>
    readAndParse(file, opts.upstreamAllowlist),
  );

  const keys: KeyRecord[] = [];
  const duplicates: DuplicateKey[] = [];
  const firstSourceOfKey = new Map<string, string>();
  const labels = new LabelAllocator();
  discovery.files.forEach((file, i) => {
    const outcome = outcomes[i] as ParseOutcome;
    if (!outcome.ok) {
      warnings.push(warning(file.path, outcome.skip));
      return;
    }
    const { entry } = outcome;
    const wanted = entry.label ?? labelFromPath(file.relPath);
    const original = firstSourceOfKey.get(entry.apiKey);
    if (original !== undefined) {
      duplicates.push({ file: file.path, duplicateOf: original, label: wanted });
      warnings.push(
        warning(file.path, {
          messageKey: 'auth.warn.duplicate',
          params: { other: original, masked: maskKey(entry.apiKey) },
        }),
      );
      return;
    }
    firstSourceOfKey.set(entry.apiKey, file.path);
    const { label, clashWith } = labels.claim(wanted, file.path);
    if (clashWith !== null) {
      warnings.push(
        warning(file.path, {
          messageKey: 'auth.warn.labelClash',
          params: { label: wanted, other: clashWith, renamed: label },
        }),
      );
    }
    for (const note of outcome.notes) warnings.push(warning(file.path, note));
    keys.push(
      Object.freeze({
        label,
        apiKey: entry.apiKey,
        maskedKey: maskKey(entry.apiKey),
        keyHash: keyHash(entry.apiKey),
        source: file.path,
        format: file.format,
        baseUrl: entry.baseUrl,
        priority: entry.priority,
        disabled: entry.disabled,
        email: entry.email,
        provider: entry.provider,
      }),
    );
  });

  keys.sort((a, b) => b.priority - a.priority || compareText(a.label, b.label));
  // Stable sort: folder-level notes come before the files inside, each file's notes stay in order.
  warnings.sort((a, b) => compareText(a.file, b.file));
  return { dir: discovery.dir, dirExists: discovery.dirExists, keys, warnings, duplicates };
}

async function readAndParse(
  file: AuthFileCandidate,
  allowlist: readonly string[],
): Promise<ParseOutcome> {
  const read = await readAuthFile(file.path);
  if (!read.ok) return read;
  switch (file.format) {
    case 'env':
      return parseEnvAuth(read.text, allowlist);
    case 'toml':
      return parseTomlAuth(read.text, allowlist);
    case 'json':
      return parseJsonAuth(read.text, allowlist);
  }
}

function warning(file: string, note: FileNote): AuthWarning {
  return { file, messageKey: note.messageKey, params: { ...note.params, file } };
}

/** Code-unit order, the same on every machine and locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
