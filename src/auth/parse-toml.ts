// Reads one `.toml` auth file: a Kimi CLI config.toml whose [providers.NAME] tables hold the key.
import { parse, TomlError } from 'smol-toml';
import { accountFromObject } from './account-object.js';
import { catchSkip, SkipFile, type ParseOutcome } from './entry.js';

/** Parse TOML text. Syntax errors name the line and column only: the parser's own message quotes the line. */
export function parseTomlAuth(text: string, allowlist: readonly string[]): ParseOutcome {
  return catchSkip(() => {
    let root: Record<string, unknown>;
    try {
      root = parse(text, { unsafeKeyBehaviour: 'drop' });
    } catch (err) {
      if (err instanceof TomlError) {
        throw new SkipFile('auth.warn.invalidTomlAt', { line: err.line, column: err.column });
      }
      throw new SkipFile('auth.warn.invalidToml');
    }
    return {
      ok: true,
      entry: accountFromObject(root, allowlist, 'auth.warn.noProvider'),
      notes: [],
    };
  });
}
