import { describe, expect, it } from 'vitest';
import { parseJsonAuth } from './parse-json.js';

const KEY = 'sk-json-test-0123456789abcdefghij';

describe('parseJsonAuth', () => {
  it('reads a flat account with every field', () => {
    const out = parseJsonAuth(
      JSON.stringify({
        api_key: KEY,
        label: 'flat',
        base_url: 'https://api.kimi.com/coding/v1',
        priority: 4,
        disabled: false,
        email: 'f@example.com',
      }),
      [],
    );
    expect(out).toEqual({
      ok: true,
      notes: [],
      entry: {
        apiKey: KEY,
        label: 'flat',
        baseUrl: 'https://api.kimi.com/coding/v1',
        priority: 4,
        disabled: false,
        email: 'f@example.com',
        provider: null,
      },
    });
  });

  it('accepts priority and disabled written as strings', () => {
    const out = parseJsonAuth(
      JSON.stringify({ api_key: KEY, priority: '-7', disabled: 'yes' }),
      [],
    );
    expect(out.ok && out.entry).toMatchObject({ priority: -7, disabled: true });
  });

  it('reads the providers layout with the same preference as TOML', () => {
    const out = parseJsonAuth(
      JSON.stringify({
        providers: {
          other: { api_key: 'sk-other-00000000000000000001' },
          'moonshot-ai': { api_key: KEY, base_url: 'https://api.moonshot.ai/v1' },
        },
      }),
      [],
    );
    expect(out.ok && out.entry).toMatchObject({
      apiKey: KEY,
      baseUrl: 'https://api.moonshot.ai/v1',
      provider: {
        name: 'moonshot-ai',
        table: { api_key: KEY, base_url: 'https://api.moonshot.ai/v1' },
      },
    });
  });

  it.each([
    ['api_key null', { api_key: null }, 'auth.warn.nullKey'],
    ['api_key missing', { label: 'x' }, 'auth.warn.missingKey'],
    ['api_key empty', { api_key: '' }, 'auth.warn.missingKey'],
    ['api_key whitespace', { api_key: '  \n ' }, 'auth.warn.missingKey'],
    ['api_key a number', { api_key: 12345 }, 'auth.warn.keyNotString'],
    ['api_key a boolean', { api_key: true }, 'auth.warn.keyNotString'],
    ['api_key an object', { api_key: { value: KEY } }, 'auth.warn.keyNotString'],
    [
      'provider api_key null',
      { providers: { 'kimi-for-coding': { api_key: null } } },
      'auth.warn.nullKey',
    ],
    ['no provider tables', { providers: {} }, 'auth.warn.noProvider'],
    ['label a number', { api_key: KEY, label: 7 }, 'auth.warn.badType'],
    ['priority fractional', { api_key: KEY, priority: 1.5 }, 'auth.warn.badValue'],
    ['disabled a word', { api_key: KEY, disabled: 'maybe' }, 'auth.warn.badValue'],
    ['base_url http', { api_key: KEY, base_url: 'http://example.com' }, 'auth.warn.badBaseUrl'],
  ])('skips a file with %s', (_case, doc, messageKey) => {
    const out = parseJsonAuth(JSON.stringify(doc), []);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.skip.messageKey).toBe(messageKey);
    expect(JSON.stringify(out.skip)).not.toContain(KEY);
    expect(JSON.stringify(out.skip)).not.toContain('None');
  });

  it.each([
    ['an array', '[{"api_key": "x"}]', 'auth.type.array'],
    ['a string', '"sk-abc"', 'auth.type.string'],
    ['null', 'null', 'auth.type.null'],
    ['a number', '42', 'auth.type.number'],
  ])('rejects %s at the top level', (_case, text, typeKey) => {
    const out = parseJsonAuth(text, []);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.skip).toEqual({
      messageKey: 'auth.warn.notObject',
      params: { found: { ref: typeKey } },
    });
  });

  it('reports a syntax error by line and column without quoting the text', () => {
    const out = parseJsonAuth(`{\n  "api_key": "${KEY}",\n}`, []);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.skip.messageKey).toBe('auth.warn.invalidJsonAt');
    expect(out.skip.params.line).toBe(3);
    expect(JSON.stringify(out.skip)).not.toContain(KEY);
  });

  it.each([[''], ['not json at all sk-json-test-0123456789abcdefghij']])(
    'reports %j as invalid JSON without quoting it',
    (text) => {
      const out = parseJsonAuth(text, []);
      expect(out.ok).toBe(false);
      if (out.ok) return;
      expect(['auth.warn.invalidJson', 'auth.warn.invalidJsonAt']).toContain(out.skip.messageKey);
      expect(JSON.stringify(out.skip)).not.toContain(KEY);
    },
  );
});
