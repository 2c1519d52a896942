// The shapes the auth registry produces: one KeyRecord per usable key, one AuthWarning per skipped or odd file.
import type { MessageKey, Params } from '../ui/i18n/index.js';

export type AuthFormat = 'env' | 'toml' | 'json';

export interface KeyRecord {
  /** Unique label (file name or KMI_KEY_LABEL/label; `-2`, `-3`… on clashes). */
  readonly label: string;
  /** The secret. Never print, log or trace it; use maskedKey or keyHash. */
  readonly apiKey: string;
  /** First 4 and last 4 characters, e.g. `sk-a…wxyz`. */
  readonly maskedKey: string;
  /** First 12 hex digits of SHA-256 of the key. */
  readonly keyHash: string;
  /** Absolute path of the file the key came from. */
  readonly source: string;
  readonly format: AuthFormat;
  /** The key's own upstream base URL (validated), or null to use KMI_UPSTREAM_BASE_URL. */
  readonly baseUrl: string | null;
  /** Higher is preferred. */
  readonly priority: number;
  readonly disabled: boolean;
  readonly email: string | null;
  /** For .toml/.json accounts: the provider name and its whole table, used when writing the Kimi config. */
  readonly provider: {
    readonly name: string;
    readonly table: Readonly<Record<string, unknown>>;
  } | null;
}

export interface AuthWarning {
  /** Absolute path of the file concerned. */
  readonly file: string;
  readonly messageKey: MessageKey;
  readonly params: Params;
}

export interface DuplicateKey {
  readonly file: string;
  readonly duplicateOf: string;
  readonly label: string;
}

export interface AuthRegistry {
  readonly dir: string;
  readonly dirExists: boolean;
  /** Usable keys, ordered by priority (desc) then label. Disabled keys are included (flagged). */
  readonly keys: readonly KeyRecord[];
  readonly warnings: readonly AuthWarning[];
  readonly duplicates: readonly DuplicateKey[];
}
