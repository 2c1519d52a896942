// Issue 5 e2e: the proxy's guard — bind refusals naming the variable, the token in every accepted form, constant-time check, never forwarded.
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { KmiError } from '../src/errors.js';
import { checkBindAllowed, startProxy } from '../src/proxy/server.js';
import { t } from '../src/ui/i18n/index.js';
import { MemoryStateStore } from './helpers/memory-state.js';
import { startHarness, type Harness } from './helpers/proxy-harness.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

function config(env: Record<string, string>) {
  return loadConfig({
    env: { HOME: '/tmp/kmi-none', KMI_STATE_DIR: '/tmp/kmi-none/state', ...env },
    cwd: '/tmp',
  }).config;
}

function refusal(env: Record<string, string>): KmiError {
  try {
    checkBindAllowed(config(env));
  } catch (err) {
    if (err instanceof KmiError) return err;
    throw err;
  }
  throw new Error('bind was allowed');
}

describe('bind rules', () => {
  it('allows loopback binds without anything else', () => {
    for (const listen of ['127.0.0.1:1', 'localhost:1', '[::1]:1', '127.1.2.3:1']) {
      expect(() => checkBindAllowed(config({ KMI_PROXY_LISTEN: listen }))).not.toThrow();
    }
  });

  it('refuses a remote bind and names the variable to set, one step at a time', () => {
    const noRemote = refusal({ KMI_PROXY_LISTEN: '0.0.0.0:54123' });
    expect(noRemote.code).toBe('KMI_E_CONFIG');
    expect(noRemote.exitCode).toBe(2);
    expect(t(noRemote.messageKey, noRemote.params)).toContain('KMI_PROXY_ALLOW_REMOTE=1');
    expect(t(noRemote.messageKey, noRemote.params, 'ru')).toContain('KMI_PROXY_ALLOW_REMOTE=1');

    const noToken = refusal({ KMI_PROXY_LISTEN: '0.0.0.0:54123', KMI_PROXY_ALLOW_REMOTE: '1' });
    expect(t(noToken.messageKey, noToken.params)).toContain('KMI_PROXY_TOKEN');

    const noTls = refusal({
      KMI_PROXY_LISTEN: '0.0.0.0:54123',
      KMI_PROXY_ALLOW_REMOTE: '1',
      KMI_PROXY_TOKEN: 'secret-token',
    });
    expect(t(noTls.messageKey, noTls.params)).toContain('KMI_PROXY_TLS_TERMINATED=1');

    const remote = {
      KMI_PROXY_LISTEN: '0.0.0.0:54123',
      KMI_PROXY_ALLOW_REMOTE: '1',
      KMI_PROXY_TOKEN: 'secret-token',
    };
    expect(() =>
      checkBindAllowed(config({ ...remote, KMI_PROXY_TLS_TERMINATED: '1' })),
    ).not.toThrow();
    expect(() => checkBindAllowed(config({ ...remote, KMI_PROXY_REQUIRE_TLS: '0' }))).not.toThrow();
  });

  it('startProxy refuses before binding anything', async () => {
    const cfg = config({ KMI_PROXY_LISTEN: '0.0.0.0:0' });
    await expect(
      startProxy({ config: cfg, keys: [], store: new MemoryStateStore() }),
    ).rejects.toMatchObject({ code: 'KMI_E_CONFIG' });
  });

  it('reports a busy port as KMI_E_PORT_IN_USE', async () => {
    h = await startHarness();
    const cfg = { ...h.config, proxyListen: { host: '127.0.0.1', port: h.proxy.port } };
    await expect(
      startProxy({ config: cfg, keys: h.keys, store: new MemoryStateStore() }),
    ).rejects.toMatchObject({ code: 'KMI_E_PORT_IN_USE' });
  });

  it('serves a remote bind once allowed, token required', async () => {
    h = await startHarness({
      env: {
        KMI_PROXY_LISTEN: '0.0.0.0:0',
        KMI_PROXY_ALLOW_REMOTE: '1',
        KMI_PROXY_TOKEN: 'remote-token',
        KMI_PROXY_TLS_TERMINATED: '1',
      },
    });
    const url = `http://127.0.0.1:${h.proxy.port}/kmi-rotor/v1/models`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { 'x-kmi-proxy-token': 'remote-token' } })).status).toBe(
      200,
    );
  });
});

describe('proxy token', () => {
  const TOKEN = 'kmi-token-0123456789';

  it('answers 401 with a JSON hint without the token, and never calls the upstream', async () => {
    h = await startHarness({ env: { KMI_PROXY_TOKEN: TOKEN } });
    for (const headers of [
      {},
      { 'x-kmi-proxy-token': 'wrong' },
      { authorization: 'Bearer wrong' },
      { authorization: `Basic ${TOKEN}` },
    ] as Record<string, string>[]) {
      const res = await fetch(h.url('/chat/completions'), { method: 'POST', body: '{}', headers });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { message: string; code: string } };
      expect(body.error.code).toBe('kmi_unauthorized');
      expect(body.error.message).toContain('x-kmi-proxy-token');
      expect(body.error.message).not.toContain(TOKEN);
    }
    const anthropic = await fetch(h.url('/messages'), { method: 'POST', body: '{}' });
    expect(await anthropic.json()).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error' },
    });
    expect(h.upstream.requests).toHaveLength(0);
  });

  it('accepts the token as x-kmi-proxy-token or Authorization: Bearer; the upstream gets the key, never the token', async () => {
    h = await startHarness({ env: { KMI_PROXY_TOKEN: TOKEN } });
    const viaHeader = await fetch(h.url('/models'), {
      headers: { 'x-kmi-proxy-token': TOKEN, authorization: 'Bearer whatever' },
    });
    expect(viaHeader.status).toBe(200);
    const viaBearer = await fetch(h.url('/models'), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(viaBearer.status).toBe(200);
    for (const r of h.upstream.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${h.keys[0]!.apiKey}`);
      expect(JSON.stringify(r.headers)).not.toContain(TOKEN);
    }
  });

  it('checks x-kmi-proxy-token first: a wrong one is refused even with a right Bearer', async () => {
    h = await startHarness({ env: { KMI_PROXY_TOKEN: TOKEN } });
    const res = await fetch(h.url('/models'), {
      headers: { 'x-kmi-proxy-token': 'nope', authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(401);
  });

  it('protects the admin endpoints too, and answers 404 outside the base path', async () => {
    h = await startHarness({ env: { KMI_PROXY_TOKEN: TOKEN } });
    for (const name of ['health', 'status', 'metrics']) {
      expect((await fetch(h.url(`/_kmi/${name}`))).status).toBe(401);
      expect(
        (await fetch(h.url(`/_kmi/${name}`), { headers: { 'x-kmi-proxy-token': TOKEN } })).status,
      ).toBe(200);
    }
    expect((await fetch(`http://127.0.0.1:${h.proxy.port}/docs`)).status).toBe(404);
  });
});
