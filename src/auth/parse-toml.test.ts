import { describe, expect, it } from 'vitest';
import { parseTomlAuth } from './parse-toml.js';

function provider(
  name: string,
  key: string | null,
  baseUrl = 'https://api.kimi.com/coding/v1',
): string {
  const keyLine = key === null ? '' : `api_key = "${key}"\n`;
  return `[providers."${name}"]\ntype = "kimi"\nbase_url = "${baseUrl}"\n${keyLine}\n`;
}

describe('parseTomlAuth', () => {
  it('reads a Kimi CLI config.toml and keeps the provider table', () => {
    const text =
      'default_model = "kimi-for-coding"\n\n' +
      provider('kimi-for-coding', 'sk-toml-main-0000000000000001') +
      '[models.kimi-for-coding]\nprovider = "kimi-for-coding"\nmodel = "kimi-for-coding"\n';
    const out = parseTomlAuth(text, []);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.entry).toMatchObject({
      apiKey: 'sk-toml-main-0000000000000001',
      baseUrl: 'https://api.kimi.com/coding/v1',
      label: null,
      priority: 0,
      disabled: false,
      email: null,
    });
    expect(out.entry.provider).toEqual({
      name: 'kimi-for-coding',
      table: {
        type: 'kimi',
        base_url: 'https://api.kimi.com/coding/v1',
        api_key: 'sk-toml-main-0000000000000001',
      },
    });
  });

  it('picks providers in the order managed:kimi-code, kimi-for-coding, moonshot-ai, then file order', () => {
    const all =
      provider('zeta', 'sk-zeta-000000000000000000001') +
      provider('moonshot-ai', 'sk-moon-000000000000000000001') +
      provider('kimi-for-coding', 'sk-kfc-0000000000000000000001') +
      provider('managed:kimi-code', 'sk-managed-00000000000000000001');
    const pick = (text: string) => {
      const out = parseTomlAuth(text, []);
      return out.ok ? out.entry.provider?.name : out.skip.messageKey;
    };
    expect(pick(all)).toBe('managed:kimi-code');
    expect(pick(all.replace('sk-managed-00000000000000000001', ''))).toBe('kimi-for-coding');
    expect(
      pick(
        provider('zeta', 'sk-zeta-000000000000000000001') +
          provider('moonshot-ai', 'sk-moon-000000000000000000001'),
      ),
    ).toBe('moonshot-ai');
    expect(
      pick(
        provider('zeta', 'sk-zeta-000000000000000000001') +
          provider('alpha', 'sk-alpha-00000000000000000001'),
      ),
    ).toBe('zeta');
  });

  it('skips a preferred provider whose api_key is empty or missing', () => {
    const out = parseTomlAuth(
      provider('kimi-for-coding', '') +
        provider('managed:kimi-code', null) +
        provider('other', 'sk-other-000000000000000000001'),
      [],
    );
    expect(out.ok && out.entry.provider?.name).toBe('other');
  });

  it('reads top-level label, priority, disabled and email', () => {
    const text =
      'label = "home"\npriority = -2\ndisabled = true\nemail = "h@example.com"\n\n' +
      provider('kimi-for-coding', 'sk-home-000000000000000000001');
    const out = parseTomlAuth(text, []);
    expect(out.ok && out.entry).toMatchObject({
      label: 'home',
      priority: -2,
      disabled: true,
      email: 'h@example.com',
    });
  });

  it('accepts a flat top-level api_key', () => {
    const out = parseTomlAuth('api_key = "sk-flat-000000000000000000001"\n', []);
    expect(out.ok && out.entry).toMatchObject({
      apiKey: 'sk-flat-000000000000000000001',
      provider: null,
    });
  });

  it.each([
    ['no providers at all', 'default_model = "x"\n', 'auth.warn.noProvider', undefined],
    ['providers without tables', '[providers]\n', 'auth.warn.noProvider', undefined],
    [
      'only an empty api_key',
      provider('kimi-for-coding', ''),
      'auth.warn.missingKey',
      'providers.kimi-for-coding.api_key',
    ],
    [
      'a number api_key',
      '[providers.kimi-for-coding]\napi_key = 12345\n',
      'auth.warn.keyNotString',
      'providers.kimi-for-coding.api_key',
    ],
    ['providers not a table', 'providers = "x"\n', 'auth.warn.badType', 'providers'],
    [
      'a bad base_url',
      provider('kimi-for-coding', 'sk-url-0000000000000000000001', 'ftp://x'),
      'auth.warn.badBaseUrl',
      'providers.kimi-for-coding.base_url',
    ],
    [
      'a float priority',
      'priority = 1.5\n' + provider('kimi-for-coding', 'sk-p-00000000000000000000001'),
      'auth.warn.badValue',
      'priority',
    ],
    [
      'a string disabled',
      'disabled = "maybe"\n' + provider('kimi-for-coding', 'sk-d-00000000000000000000001'),
      'auth.warn.badValue',
      'disabled',
    ],
  ])('skips a file with %s', (_case, text, messageKey, field) => {
    const out = parseTomlAuth(text, []);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.skip.messageKey).toBe(messageKey);
    expect(out.skip.params.field).toBe(field);
  });

  it('reports a syntax error by line and column without quoting the text', () => {
    const secret = 'sk-secret-toml-0000000000000001';
    const out = parseTomlAuth(`[providers.kimi-for-coding]\napi_key = "${secret}\n`, []);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.skip.messageKey).toBe('auth.warn.invalidTomlAt');
    expect(out.skip.params.line).toBe(2);
    expect(JSON.stringify(out.skip)).not.toContain(secret);
  });
});
