import { describe, expect, it } from 'vitest';
import { parseEnvAuth } from './parse-env.js';

const KEY = 'sk-env-test-0123456789abcdefghij';

describe('parseEnvAuth', () => {
  it('reads every supported variable', () => {
    const text = [
      `KMI_API_KEY=${KEY}`,
      'KMI_KEY_LABEL="work account"',
      'KMI_UPSTREAM_BASE_URL=https://api.kimi.com/coding/v1/',
      'KMI_KEY_PRIORITY=-3',
      'KMI_KEY_DISABLED=on',
      'KMI_ACCOUNT_EMAIL=me@example.com',
    ].join('\n');
    const out = parseEnvAuth(text, []);
    expect(out).toEqual({
      ok: true,
      notes: [],
      entry: {
        apiKey: KEY,
        label: 'work account',
        baseUrl: 'https://api.kimi.com/coding/v1',
        priority: -3,
        disabled: true,
        email: 'me@example.com',
        provider: null,
      },
    });
  });

  it('uses defaults for absent or empty optional values and KMI_EMAIL as a fallback', () => {
    const out = parseEnvAuth(
      `export KMI_API_KEY='${KEY}'\r\nKMI_KEY_PRIORITY=\r\nKMI_KEY_DISABLED=\r\nKMI_EMAIL=x@y.z\r\n`,
      [],
    );
    expect(out.ok && out.entry).toMatchObject({
      apiKey: KEY,
      label: null,
      baseUrl: null,
      priority: 0,
      disabled: false,
      email: 'x@y.z',
    });
  });

  it('prefers KMI_ACCOUNT_EMAIL over KMI_EMAIL', () => {
    const out = parseEnvAuth(`KMI_API_KEY=${KEY}\nKMI_EMAIL=b@x\nKMI_ACCOUNT_EMAIL=a@x\n`, []);
    expect(out.ok && out.entry.email).toBe('a@x');
  });

  it('keeps the file when only other lines are malformed, noting file lines without their text', () => {
    const out = parseEnvAuth(
      `# comment\n${KEY}\nKMI_API_KEY=${KEY}\nKMI_KEY_LABEL="unclosed\nnot a line\n`,
      [],
    );
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.entry.label).toBeNull();
    expect(out.notes).toEqual([
      { messageKey: 'auth.warn.envLineMalformed', params: { line: 2 } },
      { messageKey: 'auth.warn.envVarMalformed', params: { line: 4, name: 'KMI_KEY_LABEL' } },
      { messageKey: 'auth.warn.envLineMalformed', params: { line: 5 } },
    ]);
    expect(JSON.stringify(out.notes)).not.toContain('sk-env');
  });

  it.each([
    ['missing', 'KMI_KEY_LABEL=x\n', 'auth.warn.missingKey', 'KMI_API_KEY'],
    ['empty', 'KMI_API_KEY=\n', 'auth.warn.missingKey', 'KMI_API_KEY'],
    ['whitespace', 'KMI_API_KEY="   "\n', 'auth.warn.missingKey', 'KMI_API_KEY'],
    ['quotes never closed', `KMI_API_KEY="${KEY}\n`, 'auth.warn.envVarMalformed', undefined],
    [
      'bad priority',
      `KMI_API_KEY=${KEY}\nKMI_KEY_PRIORITY=high\n`,
      'auth.warn.badValue',
      'KMI_KEY_PRIORITY',
    ],
    [
      'fractional priority',
      `KMI_API_KEY=${KEY}\nKMI_KEY_PRIORITY=1.5\n`,
      'auth.warn.badValue',
      'KMI_KEY_PRIORITY',
    ],
    [
      'bad disabled',
      `KMI_API_KEY=${KEY}\nKMI_KEY_DISABLED=maybe\n`,
      'auth.warn.badValue',
      'KMI_KEY_DISABLED',
    ],
    [
      'http base url',
      `KMI_API_KEY=${KEY}\nKMI_UPSTREAM_BASE_URL=http://example.com\n`,
      'auth.warn.badBaseUrl',
      'KMI_UPSTREAM_BASE_URL',
    ],
  ])('skips the file when the key is %s', (_case, text, messageKey, field) => {
    const out = parseEnvAuth(text, []);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.skip.messageKey).toBe(messageKey);
    expect(out.skip.params.field).toBe(field);
    expect(JSON.stringify(out.skip)).not.toContain(KEY);
  });

  it('masks a key pasted into the wrong variable', () => {
    const out = parseEnvAuth(`KMI_API_KEY=${KEY}\nKMI_KEY_PRIORITY=${KEY}\n`, []);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.skip.params.got).toBe('sk-e…ghij');
  });

  it('applies the allowlist to the per-key base URL', () => {
    const text = `KMI_API_KEY=${KEY}\nKMI_UPSTREAM_BASE_URL=https://other.example.com/v1\n`;
    expect(parseEnvAuth(text, ['api.kimi.com']).ok).toBe(false);
    expect(parseEnvAuth(text, ['*.example.com']).ok).toBe(true);
  });
});
