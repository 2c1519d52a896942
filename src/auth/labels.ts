// Key labels: derived from the file name when the file gives none, and made unique with -2, -3… suffixes.
import { posix } from 'node:path';

const AUTH_SUFFIXES = ['.json.bak', '.json', '.toml', '.env'];

/**
 * The label a file gets when it names none: its name without the auth suffix (`alpha.json.bak` →
 * `alpha`), a trailing `_config`/`-config` dropped (`work_config.toml` → `work`). A file named exactly
 * `.env` takes its sub-folder's name, or `env` directly in the auth folder. `relPath` uses `/`.
 */
export function labelFromPath(relPath: string): string {
  const base = posix.basename(relPath);
  let stem: string;
  if (base === '.env') {
    const parent = posix.dirname(relPath);
    stem = parent === '.' || parent === '' ? 'env' : posix.basename(parent);
  } else {
    const lower = base.toLowerCase();
    const suffix = AUTH_SUFFIXES.find((s) => lower.endsWith(s));
    stem = suffix === undefined ? base : base.slice(0, -suffix.length);
  }
  const trimmed = stem.replace(/[_-]config$/i, '');
  return trimmed === '' ? stem : trimmed;
}

/** Hands out unique labels in call order: the first claim keeps its label, later ones get `-2`, `-3`… */
export class LabelAllocator {
  private readonly taken = new Map<string, string>();

  /** Claim `wanted` for `source`; returns the label given and, on a clash, the source that already holds `wanted`. */
  claim(wanted: string, source: string): { label: string; clashWith: string | null } {
    const holder = this.taken.get(wanted);
    if (holder === undefined) {
      this.taken.set(wanted, source);
      return { label: wanted, clashWith: null };
    }
    let n = 2;
    while (this.taken.has(`${wanted}-${n}`)) n++;
    const label = `${wanted}-${n}`;
    this.taken.set(label, source);
    return { label, clashWith: holder };
  }
}
