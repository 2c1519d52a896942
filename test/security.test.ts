// Security end-to-end: remote bind rules, the proxy token, keys only where they belong, every command leak-free, file modes, allowlist bypasses.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import {
  fakeKey,
  freePort,
  makeSandbox,
  runKmi,
  type RunResult,
  type Sandbox,
} from './helpers/kmi.js';
import { makeKey, startHarness } from './helpers/proxy-harness.js';
import {
  findSecrets,
  scanTreeForSecrets,
  startForegroundProxy,
  walk,
  type ForegroundProxy,
  type SecretHit,
} from './helpers/processes.js';

let sb: Sandbox;
const upstreams: FakeUpstream[] = [];
const proxies: ForegroundProxy[] = [];
beforeEach(async () => {
  sb = await makeSandbox();
});
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.stop();
  // a daemon some test started (kmi proxy, kmi kimi, kmi e2e)
  await runKmi(sb, ['proxy-stop', '--force']).catch(() => undefined);
  for (const u of upstreams.splice(0)) await u.close();
  await sb.cleanup();
});

async function upstream(): Promise<FakeUpstream> {
  const u = await startFakeUpstream();
  upstreams.push(u);
  return u;
}

async function foreground(env: Record<string, string>): Promise<ForegroundProxy> {
  const p = await startForegroundProxy(sb, env);
  proxies.push(p);
  return p;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('remote bind', () => {
  it('is refused without KMI_PROXY_ALLOW_REMOTE, a token and TLS, each refusal naming the variable to set', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    const port = await freePort();
    const remote = { KMI_PROXY_LISTEN: `0.0.0.0:${port}` };
    const steps: [Record<string, string>, string][] = [
      [remote, 'KMI_PROXY_ALLOW_REMOTE=1'],
      [{ ...remote, KMI_PROXY_ALLOW_REMOTE: '1' }, 'KMI_PROXY_TOKEN'],
      [
        { ...remote, KMI_PROXY_ALLOW_REMOTE: '1', KMI_PROXY_TOKEN: 'tok-remote-0123456789' },
        'KMI_PROXY_TLS_TERMINATED=1',
      ],
      [{ KMI_PROXY_LISTEN: `[::]:${port}` }, 'KMI_PROXY_ALLOW_REMOTE=1'],
    ];
    for (const [env, variable] of steps) {
      for (const args of [['proxy', '--foreground'], ['proxy']]) {
        const r = await runKmi(sb, args, { env });
        expect(r.code, `${args.join(' ')} ${JSON.stringify(env)}`).toBe(2);
        expect(r.stderr).toContain(variable);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).not.toContain('tok-remote-0123456789');
      }
    }
    // nothing was bound meanwhile
    await expect(fetch(`http://127.0.0.1:${port}/kmi-rotor/v1/_kmi/health`)).rejects.toThrow();

    // all three set: it serves (token required), and KMI_PROXY_REQUIRE_TLS=0 works instead of TLS
    const tlsSettings: Record<string, string>[] = [
      { KMI_PROXY_TLS_TERMINATED: '1' },
      { KMI_PROXY_REQUIRE_TLS: '0' },
    ];
    for (const tls of tlsSettings) {
      const p = await foreground({
        ...remote,
        KMI_PROXY_LISTEN: `0.0.0.0:${await freePort()}`,
        KMI_PROXY_ALLOW_REMOTE: '1',
        KMI_PROXY_TOKEN: 'tok-remote-0123456789',
        ...tls,
      });
      const base = `http://127.0.0.1:${p.port}/kmi-rotor/v1`;
      expect((await fetch(`${base}/models`)).status).toBe(401);
      const ok = await fetch(`${base}/models`, {
        headers: { 'x-kmi-proxy-token': 'tok-remote-0123456789' },
      });
      expect(ok.status).toBe(200);
      await ok.text();
      await p.stop();
      proxies.length = 0;
    }
  });
});

describe('proxy token', () => {
  const TOKEN = 'tok-secret-abcdefghijklmnop0123';

  it('401 JSON without or with a wrong token; accepted as x-kmi-proxy-token, Bearer or x-api-key; never forwarded, the key goes instead', async () => {
    const up = await upstream();
    const keys = [fakeKey('alpha'), fakeKey('bravo')];
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${keys[0]}\n`);
    await sb.writeAuth('bravo.env', `KMI_API_KEY=${keys[1]}\n`);
    const p = await foreground({
      KMI_PROXY_LISTEN: `127.0.0.1:${await freePort()}`,
      KMI_DRY_RUN: '0',
      KMI_UPSTREAM_BASE_URL: up.url,
      KMI_PROXY_TOKEN: TOKEN,
    });

    const refused: Record<string, string>[] = [
      {},
      { 'x-kmi-proxy-token': 'wrong' },
      { 'x-kmi-proxy-token': TOKEN.slice(0, -1) },
      { 'x-kmi-proxy-token': `${TOKEN}x` },
      { authorization: 'Bearer wrong' },
      { authorization: `Basic ${TOKEN}` },
      { authorization: `Bearer ${TOKEN.toUpperCase()}` },
      // a right Bearer does not rescue a wrong x-kmi-proxy-token (checked first)
      { 'x-kmi-proxy-token': 'nope', authorization: `Bearer ${TOKEN}` },
    ];
    for (const headers of refused) {
      for (const path of ['/chat/completions', '/_kmi/status', '/_kmi/metrics', '/_kmi/health']) {
        const res = await fetch(`${p.url}${path}`, {
          method: path === '/chat/completions' ? 'POST' : 'GET',
          headers: { 'content-type': 'application/json', ...headers },
          ...(path === '/chat/completions' ? { body: '{"messages":[]}' } : {}),
        });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('content-type')).toBe('application/json');
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('kmi_unauthorized');
        expect(body.error.message).toContain('x-kmi-proxy-token');
        expect(JSON.stringify(body)).not.toContain(TOKEN);
      }
    }
    const anthropic = await fetch(`${p.url}/messages`, { method: 'POST', body: '{}' });
    expect(anthropic.status).toBe(401);
    expect(await anthropic.json()).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error' },
    });
    // (the proxy's own background /usages checks are not client traffic)
    const forwarded = () => up.requests.filter((r) => !r.path.endsWith('/usages'));
    expect(forwarded()).toEqual([]);

    const accepted: Record<string, string>[] = [
      { 'x-kmi-proxy-token': TOKEN },
      { authorization: `Bearer ${TOKEN}` },
      { 'x-kmi-proxy-token': TOKEN, authorization: 'Bearer client-placeholder' },
      {
        'x-kmi-proxy-token': TOKEN,
        'x-api-key': 'client-placeholder',
        'anthropic-version': '2023-06-01',
      },
      // what the Anthropic SDK sends for its apiKey
      { 'x-api-key': TOKEN, 'anthropic-version': '2023-06-01' },
    ];
    for (const headers of accepted) {
      for (const path of ['/chat/completions', '/messages']) {
        const res = await fetch(`${p.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
        });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(200);
        const text = await res.text();
        for (const [name, value] of res.headers) {
          for (const secret of [TOKEN, ...keys]) expect(`${name}: ${value}`).not.toContain(secret);
        }
        for (const secret of [TOKEN, ...keys]) expect(text).not.toContain(secret);
      }
    }
    expect(forwarded()).toHaveLength(accepted.length * 2);
    for (const r of up.requests) {
      const all = JSON.stringify(r.headers);
      expect(all).not.toContain(TOKEN);
      expect(r.headers['x-kmi-proxy-token']).toBeUndefined();
      expect(keys).toContain(r.key);
      // the key is sent in the form the client used: x-api-key stays x-api-key, else Bearer
      if (r.headers['x-api-key'] !== undefined) {
        expect(r.headers['x-api-key']).toBe(r.key);
        expect(r.headers.authorization).toBeUndefined();
      } else {
        expect(r.headers.authorization).toBe(`Bearer ${r.key}`);
      }
    }
    expect(p.stdout() + p.stderr()).not.toContain(TOKEN);
  });
});

describe('keys only go where they belong', () => {
  it('a key with its own base_url is sent only there, for proxy traffic and /usages alike; others never go there', async () => {
    const shared = await upstream();
    const own = await upstream();
    const k = { alpha: fakeKey('alpha'), bravo: fakeKey('bravo'), charlie: fakeKey('charl') };
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${k.alpha}\nKMI_UPSTREAM_BASE_URL=${own.url}\n`);
    await sb.writeAuth('bravo.env', `KMI_API_KEY=${k.bravo}\n`);
    await sb.writeAuth(
      'charlie.toml',
      `[providers.kimi-for-coding]\ntype = "kimi"\nbase_url = "${own.url}"\napi_key = "${k.charlie}"\n`,
    );
    // round-robin, so every key serves
    await mkdir(sb.stateDir, { recursive: true, mode: 0o700 });
    await writeFile(
      join(sb.stateDir, 'state.json'),
      JSON.stringify({ schema_version: 1, auto_rotate: true, keys: {} }),
      { mode: 0o600 },
    );
    const live = { KMI_DRY_RUN: '0', KMI_UPSTREAM_BASE_URL: shared.url };
    Object.assign(sb.env, live);
    const health = await runKmi(sb, ['health', '--json'], { timeoutMs: 30_000 });
    expect(health.code).toBe(0);
    const p = await foreground({ KMI_PROXY_LISTEN: `127.0.0.1:${await freePort()}` });
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${p.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
        body: JSON.stringify({ messages: [{ role: 'user', content: `hello ${i}` }] }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    const keysAt = (u: FakeUpstream, path: string) =>
      new Set(u.requests.filter((r) => r.path.endsWith(path)).map((r) => r.key));
    expect(keysAt(own, '/usages')).toEqual(new Set([k.alpha, k.charlie]));
    expect(keysAt(shared, '/usages')).toEqual(new Set([k.bravo]));
    expect(keysAt(own, '/chat/completions')).toEqual(new Set([k.alpha, k.charlie]));
    expect(keysAt(shared, '/chat/completions')).toEqual(new Set([k.bravo]));
  });

  it('a key whose base_url fails the allowlist is never used, even if handed to the proxy directly', async () => {
    const elsewhere = await startFakeUpstream();
    try {
      const port = elsewhere.port;
      const h = await startHarness({
        keys: [
          makeKey('good'),
          // loopback, so http is allowed, but the host "localhost" is not on the allowlist
          makeKey('elsewhere', { baseUrl: `http://localhost:${port}/coding/v1` }),
        ],
        env: { KMI_UPSTREAM_ALLOWLIST: '127.0.0.1' },
        initialState: {
          schema_version: 1,
          active_index: 0,
          rotation_index: 0,
          auto_rotate: true,
          last_health_refresh: null,
          keys: {},
        },
      });
      try {
        for (let i = 0; i < 6; i++) {
          const res = await fetch(h.url('/models'));
          expect(res.status).toBe(200);
          expect(res.headers.get('x-kmi-key-label')).toBe('good');
          await res.text();
        }
        expect(elsewhere.requests).toEqual([]);
        expect(h.upstream.requests.map((r) => r.key)).toEqual(Array(6).fill(h.keys[0]!.apiKey));
      } finally {
        await h.close();
      }
    } finally {
      await elsewhere.close();
    }
  });
});

describe('upstream allowlist bypass attempts', () => {
  const ALLOW = { KMI_UPSTREAM_ALLOWLIST: 'api.kimi.com' };
  const attempts: [string, string][] = [
    ['https://api.kimi.com@evil.example/coding/v1', 'user:password@'],
    ['https://api.kimi.com:443@evil.example/coding/v1', 'user:password@'],
    ['https://user:pass@api.kimi.com/coding/v1', 'user:password@'],
    ['https://api.kimi.com.evil.example/coding/v1', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://API.KIMI.COM.EVIL.EXAMPLE/coding/v1', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://api.kimi.com%2eevil.example/coding/v1', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://evil.example/api.kimi.com/coding/v1', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://evil.example:443/api.kimi.com', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://evil.example:8443\\@api.kimi.com/coding/v1', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://evil.example./coding/v1', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://api.kimi.com../coding/v1', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://kimi.com/coding/v1', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://0x7f000001/coding/v1', 'KMI_UPSTREAM_ALLOWLIST'],
    ['https://evil.example/coding/v1?api.kimi.com', 'without query'],
    ['https://evil.example/coding/v1#api.kimi.com', 'without query'],
    ['http://api.kimi.com/coding/v1', 'https://'],
    ['http://api.kimi.com:443/coding/v1', 'https://'],
    ['http://127.0.0.1.evil.example/coding/v1', 'https://'],
    ['ftp://api.kimi.com/coding/v1', 'https://'],
    ['//api.kimi.com/coding/v1', 'absolute URL'],
  ];
  // Same host, however written: accepted (the allowlist names hosts; ports are not part of it).
  const allowed = [
    'https://API.Kimi.COM/coding/v1',
    'https://api.kimi.com./coding/v1',
    'https://api.kimi.com:8443/coding/v1',
  ];

  it('KMI_UPSTREAM_BASE_URL: every bypass is refused with exit code 2 naming the variable', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    for (const [url, why] of attempts) {
      const r = await runKmi(sb, ['status', '--json'], {
        env: { ...ALLOW, KMI_UPSTREAM_BASE_URL: url },
      });
      expect(r.code, url).toBe(2);
      const err = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      expect(err.error.code).toBe('KMI_E_CONFIG');
      expect(err.error.message, url).toMatch(/^KMI_UPSTREAM_BASE_URL must be /);
      expect(err.error.message, url).toContain(why);
    }
    for (const url of allowed) {
      const r = await runKmi(sb, ['status', '--json'], {
        env: { ...ALLOW, KMI_UPSTREAM_BASE_URL: url },
      });
      expect(r.code, url).toBe(0);
    }
  });

  it('per-key base_url (.env, .toml, .json): every bypass skips the file with a warning naming it and the field', async () => {
    const files: string[] = [];
    for (const [i, [url]] of attempts.entries()) {
      const key = fakeKey(`byp${i}`);
      const format = i % 3;
      if (format === 0) {
        files.push(
          await sb.writeAuth(`env-${i}.env`, `KMI_API_KEY=${key}\nKMI_UPSTREAM_BASE_URL=${url}\n`),
        );
      } else if (format === 1) {
        files.push(
          await sb.writeAuth(
            `toml-${i}.toml`,
            `[providers.kimi-for-coding]\ntype = "kimi"\nbase_url = ${JSON.stringify(url)}\napi_key = "${key}"\n`,
          ),
        );
      } else {
        files.push(
          await sb.writeAuth(
            `json-${i}.json`,
            JSON.stringify({ providers: { 'kimi-for-coding': { api_key: key, base_url: url } } }),
          ),
        );
      }
    }
    for (const [i, url] of allowed.entries())
      await sb.writeAuth(
        `ok-${i}.env`,
        `KMI_API_KEY=${fakeKey(`ok${i}`)}\nKMI_UPSTREAM_BASE_URL=${url}\n`,
      );
    const r = await runKmi(sb, ['status', '--json'], { env: ALLOW });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      accounts: { label: string }[];
      warnings: { file: string; message: string }[];
    };
    expect(report.accounts.map((a) => a.label).sort()).toEqual(['ok-0', 'ok-1', 'ok-2']);
    expect(report.warnings.map((w) => w.file).sort()).toEqual([...files].sort());
    for (const w of report.warnings) {
      expect(w.message).toMatch(
        /: skipped, (KMI_UPSTREAM_BASE_URL|base_url|providers\.kimi-for-coding\.base_url) must be /,
      );
      expect(w.message.startsWith(w.file)).toBe(true);
    }
  });
});

describe('every command, with live settings and a proxy token', () => {
  it('never prints or stores a key or the token; state files are 0600 in 0700 folders', async () => {
    const TOKEN = 'tok-leakcheck-9f8e7d6c5b4a3210';
    const up = await upstream();
    const keys = { alpha: fakeKey('alpha'), bravo: fakeKey('bravo'), charlie: fakeKey('charl') };
    const userOwn = fakeKey('userown');
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${keys.alpha}\nKMI_KEY_LABEL=alpha\n`);
    await sb.writeAuth(
      'bravo.toml',
      `default_model = "kimi-for-coding"\n[providers.kimi-for-coding]\ntype = "kimi"\nbase_url = "${up.url}"\napi_key = "${keys.bravo}"\n`,
    );
    await sb.writeAuth(
      'charlie.json',
      JSON.stringify({
        providers: { 'kimi-for-coding': { api_key: keys.charlie, base_url: up.url } },
      }),
    );
    // the user's own Kimi config, with a key of theirs
    const kimiDir = join(sb.home, '.kimi');
    await mkdir(kimiDir, { recursive: true });
    await writeFile(
      join(kimiDir, 'config.toml'),
      `default_model = "kimi-for-coding"\n[providers.kimi-for-coding]\ntype = "kimi"\nbase_url = "${up.url}"\napi_key = "${userOwn}"\n[services.moonshot_search]\napi_key = "${userOwn}"\n`,
    );
    // a stub `kimi` that reports only a hash of the key it was given
    const bin = join(sb.root, 'bin');
    await mkdir(bin);
    await writeFile(
      join(bin, 'kimi'),
      '#!/bin/sh\necho "kimi-stub args=$* base=$KIMI_BASE_URL"\nprintf "keysha=%s\\n" "$(printf %s "$KIMI_API_KEY" | sha256sum | cut -c1-64)"\nexit 3\n',
    );
    await chmod(join(bin, 'kimi'), 0o755);
    const port = await freePort();
    const tmp = join(sb.root, 'tmp');
    await mkdir(tmp);
    Object.assign(sb.env, {
      TMPDIR: tmp,
      PATH: `${bin}:${sb.env.PATH}`,
      KMI_DRY_RUN: '0',
      KMI_UPSTREAM_BASE_URL: up.url,
      KMI_PROXY_TOKEN: TOKEN,
      KMI_PROXY_LISTEN: `127.0.0.1:${port}`,
      KMI_AUTO_ROTATE_ALLOWED: '1',
    });
    const base = `http://127.0.0.1:${port}/kmi-rotor/v1`;

    const runs: { args: string[]; result: RunResult }[] = [];
    const kmi = async (args: string[], expectCodes: number[] = [0], timeoutMs = 60_000) => {
      const result = await runKmi(sb, args, { timeoutMs });
      runs.push({ args, result });
      expect(expectCodes, `kmi ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toContain(
        result.code,
      );
      return result;
    };

    await kmi(['status']);
    await kmi(['status', '--json']);
    await kmi(['health', '--json']);
    await kmi(['--all']);
    // before rotating, the Kimi config holds the user's own key, which is not in the pool: exit 1
    await kmi(['--current'], [1]);
    await kmi(['health', '--current', '--json'], [1]);
    await kmi(['rotate']);
    await kmi(['--current']);
    await kmi(['rotate', '--json']);
    await kmi(['unblock', '--all']);
    await kmi(['unblock', 'alpha', '--json']);
    await kmi(['unblock', keys.alpha], [1]); // a key pasted as a label is not echoed back
    await kmi(['doctor', '--json'], [0, 1]);
    await kmi(['proxy']);
    // traffic through the daemon: a prompt that quotes a key, a stream, an Anthropic call
    for (const [path, body] of [
      [
        '/chat/completions',
        { messages: [{ role: 'user', content: `my key is ${keys.bravo} please` }] },
      ],
      [
        '/chat/completions',
        { stream: true, messages: [{ role: 'user', content: 'stream please' }] },
      ],
      [
        '/messages',
        { max_tokens: 8, messages: [{ role: 'user', content: `${TOKEN} is my token` }] },
      ],
    ] as const) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(
      (await fetch(`${base}/models`, { headers: { 'x-kmi-proxy-token': TOKEN } })).status,
    ).toBe(200);
    expect((await fetch(`${base}/models`)).status).toBe(401);
    await kmi(['rotate', 'auto'], [0]);
    await kmi(['e2e', '-n', '12', '--batch', '4', '--pause', '0', '--window', '12']);
    await kmi(['rotate', 'off']);
    await kmi(['trace', '--once']);
    await kmi(['trace', '--json']);
    await kmi(['--trace']);
    await kmi(['proxy-logs', '--no-follow']);
    await kmi(['proxy-logs', '--no-follow', '--app', '--lines', '500']);
    const kimiRun = await kmi(['kimi', '--yolo', 'hi'], [3]);
    expect(kimiRun.stdout).toContain(`base=${base}`);
    expect(kimiRun.stdout).toContain(`keysha=${sha256(TOKEN)}`);
    await kmi(['doctor'], [0, 1]);
    await kmi(['proxy-stop']);
    await kmi(['demo']);
    await kmi(['demo', '--json']);
    await kmi(['status', '--json']);

    // the upstream only ever saw pool keys, never the token
    for (const r of up.requests) {
      expect(Object.values(keys)).toContain(r.key);
      expect(JSON.stringify(r.headers)).not.toContain(TOKEN);
    }

    const poolKeys = Object.values(keys);
    const hits: SecretHit[] = [];
    for (const { args, result } of runs) {
      for (const stream of ['stdout', 'stderr'] as const) {
        hits.push(
          ...findSecrets(
            result[stream],
            [...poolKeys, userOwn, TOKEN],
            `kmi ${args.join(' ')} (${stream})`,
          ),
        );
      }
    }
    // The kimi-stub line prints only a hash; the key it got is the token, never a pool key.
    const kimiConfig = join(kimiDir, 'config.toml');
    const isKimiConfigOrBackup = (path: string) =>
      path === kimiConfig || path.startsWith(`${kimiConfig}.kmi-backup-`);
    hits.push(...(await scanTreeForSecrets(sb.stateDir, [...poolKeys, userOwn, TOKEN])));
    hits.push(
      ...(await scanTreeForSecrets(
        sb.home,
        [...poolKeys, userOwn, TOKEN],
        // The Kimi config holds the chosen key by design, and its backups the keys it held before.
        (entry, secret) => secret !== TOKEN && isKimiConfigOrBackup(entry.path),
      )),
    );
    hits.push(...(await scanTreeForSecrets(tmp, [...poolKeys, userOwn, TOKEN])));
    expect(hits).toEqual([]);
    expect(await readdir(tmp)).toEqual([]); // the demo cleaned up after itself
    // (the scan does find keys where they are: the exempted Kimi config and its backups)
    expect((await scanTreeForSecrets(kimiDir, [...poolKeys, userOwn])).length).toBeGreaterThan(1);

    // the config really holds a pool key now, and the backup the user's own key
    const written = await readFile(kimiConfig, 'utf8');
    expect(poolKeys.some((k) => written.includes(k))).toBe(true);
    const backups = (await readdir(kimiDir)).filter((n) => n.startsWith('config.toml.kmi-backup-'));
    expect(backups.length).toBeGreaterThan(0);

    // the trace exists and masks the key quoted in a prompt
    const trace = await readFile(join(sb.stateDir, 'trace', 'trace.jsonl'), 'utf8');
    expect(trace).toContain(`${keys.bravo.slice(0, 4)}…${keys.bravo.slice(-4)}`);

    // modes: folders 0700, files 0600, everywhere under the state folder; the Kimi config 0600
    const entries = await walk(sb.stateDir);
    expect(entries.length).toBeGreaterThan(3);
    const loose = entries.filter(
      (e) =>
        (e.kind === 'dir' && e.mode !== 0o700) ||
        (e.kind === 'file' && e.mode !== 0o600) ||
        e.kind === 'link' ||
        e.kind === 'other',
    );
    expect(loose.map((e) => `${e.rel} ${e.kind} ${e.mode.toString(8)}`)).toEqual([]);
    for (const name of ['config.toml', ...backups]) {
      const mode = (await walk(kimiDir)).find((e) => e.rel === name)?.mode;
      expect(mode, name).toBe(0o600);
    }
  }, 120_000);
});
