// A dotenv-compatible parser that reports each malformed line with its line number instead of guessing.

export interface EnvParseWarning {
  readonly line: number;
  readonly text: string;
}

export interface EnvParseResult {
  readonly values: Record<string, string>;
  readonly warnings: EnvParseWarning[];
}

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/;

/**
 * Parse .env text: `KEY=value`, `export KEY=value`, single or double quotes (double quotes expand
 * \n, \t, \" and \\), `#` comments (inline only after whitespace in unquoted values), blank lines,
 * CRLF and a UTF-8 BOM. A line that is none of these is skipped and reported.
 */
export function parseEnv(text: string): EnvParseResult {
  const values: Record<string, string> = {};
  const warnings: EnvParseWarning[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = LINE.exec(raw);
    if (!match) {
      warnings.push({ line: i + 1, text: redact(trimmed.slice(0, 40)) });
      continue;
    }
    const name = match[1] as string;
    const value = parseValue((match[2] ?? '').trim());
    if (value === null) {
      warnings.push({ line: i + 1, text: `${name}=…` });
      continue;
    }
    values[name] = value;
  }
  return { values, warnings };
}

function parseValue(rest: string): string | null {
  const quote = rest[0];
  if (quote === '"' || quote === "'") {
    const end = findClosingQuote(rest, quote);
    if (end < 0) return null;
    const after = rest.slice(end + 1).trim();
    if (after !== '' && !after.startsWith('#')) return null;
    const inner = rest.slice(1, end);
    return quote === '"' ? unescapeDouble(inner) : inner;
  }
  const hash = rest.search(/\s#/);
  return (hash >= 0 ? rest.slice(0, hash) : rest).trim();
}

function findClosingQuote(s: string, quote: string): number {
  for (let i = 1; i < s.length; i++) {
    if (s[i] === '\\' && quote === '"') {
      i++;
      continue;
    }
    if (s[i] === quote) return i;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  return s.replace(/\\([nrt"\\])/g, (_m, c: string) =>
    c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c,
  );
}

/** A malformed line is echoed to help find it, but a pasted key must not be: long token runs are masked. */
function redact(text: string): string {
  return text.replace(/[A-Za-z0-9_+/=.-]{12,}/g, (run) => `${run.slice(0, 4)}…${run.slice(-4)}`);
}
