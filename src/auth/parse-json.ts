// Reads one `.json`/`.json.bak` auth file: the providers layout of config.toml as JSON, or a flat {"api_key": …}.
import { accountFromObject, isPlainObject } from './account-object.js';
import { catchSkip, SkipFile, type ParseOutcome } from './entry.js';
import { typeRef } from './fields.js';

/** Parse JSON text. Syntax errors name the position only: V8's message quotes the text, which may hold the key. */
export function parseJsonAuth(text: string, allowlist: readonly string[]): ParseOutcome {
  return catchSkip(() => {
    let root: unknown;
    try {
      root = JSON.parse(text);
    } catch (err) {
      throw syntaxError(text, err);
    }
    if (!isPlainObject(root)) throw new SkipFile('auth.warn.notObject', { found: typeRef(root) });
    return {
      ok: true,
      entry: accountFromObject(root, allowlist, 'auth.warn.missingKey'),
      notes: [],
    };
  });
}

function syntaxError(text: string, err: unknown): SkipFile {
  const position = /at position (\d+)/.exec(err instanceof Error ? err.message : '');
  if (!position) return new SkipFile('auth.warn.invalidJson');
  const before = text.slice(0, Number(position[1]));
  const lines = before.split('\n');
  return new SkipFile('auth.warn.invalidJsonAt', {
    line: lines.length,
    column: (lines[lines.length - 1] ?? '').length + 1,
  });
}
