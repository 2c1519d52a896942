// What a parser extracts from one auth file, before labels and de-duplication are applied.
import type { MessageKey, Params } from '../ui/i18n/index.js';

/** One account read from one file; `label` is null when the file gave none (the file name is used). */
export interface AuthEntry {
  readonly apiKey: string;
  readonly label: string | null;
  readonly baseUrl: string | null;
  readonly priority: number;
  readonly disabled: boolean;
  readonly email: string | null;
  readonly provider: {
    readonly name: string;
    readonly table: Readonly<Record<string, unknown>>;
  } | null;
}

/** A message about a file, without the `file` parameter (the registry adds it). */
export interface FileNote {
  readonly messageKey: MessageKey;
  readonly params: Params;
}

/** A parser's answer: the entry plus notes that matter only if the file is kept, or why it is skipped. */
export type ParseOutcome =
  | { readonly ok: true; readonly entry: AuthEntry; readonly notes: readonly FileNote[] }
  | { readonly ok: false; readonly skip: FileNote };

/** Thrown by field checks to skip the whole file; caught by the parsers, never escapes src/auth. */
export class SkipFile extends Error {
  readonly note: FileNote;
  constructor(messageKey: MessageKey, params: Params = {}) {
    super(messageKey);
    this.name = 'SkipFile';
    this.note = { messageKey, params };
  }
}

/** Run a parser body, turning a SkipFile into a skip outcome. */
export function catchSkip(body: () => ParseOutcome): ParseOutcome {
  try {
    return body();
  } catch (err) {
    if (err instanceof SkipFile) return { ok: false, skip: err.note };
    throw err;
  }
}
