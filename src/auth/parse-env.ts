// Reads one `.env` auth file: KMI_API_KEY plus optional label, base URL, priority, disabled flag and e-mail.
import { parseEnv } from '../config/env.js';
import { catchSkip, SkipFile, type FileNote, type ParseOutcome } from './entry.js';
import {
  optionalBaseUrl,
  optionalDisabled,
  optionalEmail,
  optionalLabel,
  optionalPriority,
  requireApiKey,
} from './fields.js';

// parseEnv reports a line whose quotes do not close as `NAME=…`; any other text is the raw line,
// which may hold a pasted key, so only the variable name is ever passed on.
const QUOTE_FAILURE = /^([A-Za-z_][A-Za-z0-9_.-]*)=…$/;

/** Parse `.env` text. Malformed lines become notes (file:line) and do not skip the file. */
export function parseEnvAuth(text: string, allowlist: readonly string[]): ParseOutcome {
  return catchSkip(() => {
    const { values, warnings } = parseEnv(text);
    const get = (name: string): string | undefined => values[name];
    if (get('KMI_API_KEY') === undefined) {
      // The key is in the file but its quotes never close: say that, not "missing".
      const unclosed = warnings.find((w) => QUOTE_FAILURE.exec(w.text)?.[1] === 'KMI_API_KEY');
      if (unclosed)
        throw new SkipFile('auth.warn.envVarMalformed', {
          line: unclosed.line,
          name: 'KMI_API_KEY',
        });
    }
    const entry = {
      apiKey: requireApiKey(get('KMI_API_KEY'), 'KMI_API_KEY'),
      label: optionalLabel(get('KMI_KEY_LABEL'), 'KMI_KEY_LABEL'),
      baseUrl: optionalBaseUrl(get('KMI_UPSTREAM_BASE_URL'), 'KMI_UPSTREAM_BASE_URL', allowlist),
      priority: optionalPriority(get('KMI_KEY_PRIORITY'), 'KMI_KEY_PRIORITY'),
      disabled: optionalDisabled(get('KMI_KEY_DISABLED'), 'KMI_KEY_DISABLED'),
      email:
        optionalEmail(get('KMI_ACCOUNT_EMAIL'), 'KMI_ACCOUNT_EMAIL') ??
        optionalEmail(get('KMI_EMAIL'), 'KMI_EMAIL'),
      provider: null,
    };
    const notes = warnings.map((w): FileNote => {
      const quoted = QUOTE_FAILURE.exec(w.text);
      return quoted
        ? {
            messageKey: 'auth.warn.envVarMalformed',
            params: { line: w.line, name: quoted[1] as string },
          }
        : { messageKey: 'auth.warn.envLineMalformed', params: { line: w.line } };
    });
    return { ok: true, entry, notes };
  });
}
