// Issue 10: the dashboard's endpoints over real HTTP — page and assets, token protection, unblock and auto-rotate actions, the live feed.
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { usedSecrets } from './helpers/kmi.js';
import {
  FeedReader,
  startDashboard,
  stateWithBlocked,
  type DashboardHarness,
} from './dashboard-harness.js';

let h: DashboardHarness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

const json = { 'content-type': 'application/json' };

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(h!.url(path), {
    method: 'POST',
    headers: { ...json, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function status(headers: Record<string, string> = {}): Promise<any> {
  return (await fetch(h!.url('/_kmi/status'), { headers })).json();
}

/** Raw HTTP, for headers fetch will not let a test set (Host). */
function rawGet(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard page', () => {
  it('serves the page with its admin path, a strict CSP, and its script and styles from memory', async () => {
    h = await startDashboard();
    const res = await fetch(h.url('/_kmi/ui'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain('content="/kmi-rotor/v1/_kmi"');
    expect(html).toContain('src="/kmi-rotor/v1/_kmi/ui/app.js"');
    expect(html).not.toContain('%KMI_ADMIN%');
    expect(html).not.toMatch(/https?:\/\//); // nothing from a CDN

    const js = await fetch(h.url('/_kmi/ui/app.js'));
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('x-kmi-proxy-token');
    const css = await fetch(h.url('/_kmi/ui/app.css'));
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('prefers-color-scheme');

    const etag = js.headers.get('etag')!;
    const again = await fetch(h.url('/_kmi/ui/app.js'), { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect((await fetch(h.url('/_kmi/ui/nope.js'))).status).toBe(404);
    expect((await fetch(h.url('/_kmi/ui'), { method: 'POST' })).status).toBe(405);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it('state lists every key masked, with health, quota and the warnings the header shows', async () => {
    h = await startDashboard({ labels: ['a', 'b', 'c'], initialState: stateWithBlocked(['b']) });
    const res = await fetch(h.url('/_kmi/ui/state'));
    expect(res.status).toBe(200);
    const s = (await res.json()) as any;
    expect(s).toMatchObject({
      dry_run: false,
      version: 'test',
      auto_rotate: true,
      eligible_keys: 2,
    });
    expect(s.keys.map((k: any) => [k.label, k.health])).toEqual([
      ['a', 'healthy'],
      ['b', 'blocked'],
      ['c', 'healthy'],
    ]);
    expect(s.keys[1]).toMatchObject({ blocked_reason: 'auth', can_unblock: true, skip: 'blocked' });
    expect(s.keys[1].masked_key).toBe(h.keys[1]!.maskedKey);
    expect(s.warnings).toEqual([{ level: 'error', text: '1 key is blocked: b (auth).' }]);
    const text = JSON.stringify(s);
    for (const secret of usedSecrets) expect(text).not.toContain(secret);
  });

  it('warns when the strict usage pre-check starves traffic', async () => {
    h = await startDashboard({
      env: {
        KMI_REQUIRE_USAGE_BEFORE_REQUEST: '1',
        KMI_FAIL_OPEN_ON_EMPTY_CACHE: '0',
        KMI_USAGE_CACHE_SECONDS: '60',
      },
      proxy: {
        // /usages is down: no key ever gets the fresh check the pre-check wants.
        fetchUsages: async (keys) =>
          new Map(keys.map((k) => [k.label, { ok: false, kind: 'network', detail: 'down' }])),
      },
    });
    await h.proxy.refreshUsage();
    const s = (await (await fetch(h.url('/_kmi/ui/state'))).json()) as any;
    expect(s.eligible_keys).toBe(0);
    expect(s.keys[0]).toMatchObject({ health: 'warn', skip: 'usage_unchecked' });
    expect(s.warnings[0].level).toBe('error');
    expect(s.warnings[0].text).toContain('starving traffic');
  });
});

describe('token protection', () => {
  const token = 'dash-token-123';
  const withToken = { 'x-kmi-proxy-token': token };

  it('data, feed and actions need the token; the page shell and its files do not', async () => {
    h = await startDashboard({
      initialState: stateWithBlocked(['b']),
      env: { KMI_PROXY_TOKEN: token },
    });
    expect((await fetch(h.url('/_kmi/ui/state'))).status).toBe(401);
    expect((await fetch(h.url('/_kmi/ui/state'), { headers: withToken })).status).toBe(200);
    expect(
      (await fetch(h.url('/_kmi/ui/state'), { headers: { 'x-kmi-proxy-token': 'wrong' } })).status,
    ).toBe(401);
    expect((await fetch(h.url('/_kmi/ui/feed'))).status).toBe(401);
    expect((await post('/_kmi/actions/unblock', { label: 'b' })).status).toBe(401);
    expect((await post('/_kmi/actions/auto-rotate', { on: false })).status).toBe(401);
    expect((await h.stateOnDisk()).keys.b!.blocked_reason).toBe('auth');
    expect(h.logger.audits()).toEqual([]);

    // The shell holds no data: it loads, then asks for the token (never in the URL).
    const page = await fetch(h.url('/_kmi/ui'));
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain(token);
    expect((await fetch(h.url('/_kmi/ui/app.js'))).status).toBe(200);

    // With the token the origin is not compared (a TLS-terminating reverse proxy may rewrite Host).
    const ok = await post(
      '/_kmi/actions/unblock',
      { label: 'b' },
      { ...withToken, origin: 'https://kmi.example' },
    );
    expect(ok.status).toBe(200);
  });

  it('without a token, data and actions answer only loopback host names (no DNS rebinding)', async () => {
    h = await startDashboard();
    const url = h.url('/_kmi/ui/state');
    expect(await rawGet(url, {})).toBe(200);
    expect(await rawGet(url, { host: `localhost:${h.proxy.port}` })).toBe(200);
    expect(await rawGet(url, { host: `evil.example:${h.proxy.port}` })).toBe(403);
    expect(await rawGet(h.url('/_kmi/ui/feed'), { host: 'evil.example' })).toBe(403);
  });
});

describe('unblock action', () => {
  it('clears the block in state.json as kmi unblock does, audits it, and the proxy uses the key at once', async () => {
    h = await startDashboard({ labels: ['a', 'b', 'c'], initialState: stateWithBlocked(['b']) });
    const before = await status();
    expect(before.keys[1]).toMatchObject({ label: 'b', eligible: false, skip_reason: 'blocked' });

    const res = await post('/_kmi/actions/unblock', { label: 'b' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, unblocked: ['b'], message: 'unblocked: b' });
    // Still `warn`: 1 of its 3 requests failed (error rate ≥ 5 %), but it serves again.
    expect(res.body.snapshot.keys[1]).toMatchObject({ label: 'b', health: 'warn', skip: null });

    const disk = await h.stateOnDisk();
    expect(disk.keys.b).toMatchObject({
      blocked_reason: null,
      blocked_until: null,
      exhausted_until: null,
      consecutive_failures: 0,
      request_count: 3,
    });
    expect(h.logger.audits()).toEqual([
      {
        level: 'audit',
        event: 'unblock',
        fields: { labels: ['b'], requested: 'b', actor: 'dash-tester', via: 'dashboard' },
      },
    ]);
    // In memory right away, not after the next watch poll.
    const after = await status();
    expect(after.keys[1]).toMatchObject({ label: 'b', eligible: true, state: 'ok' });
    const served = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const r = await fetch(h.url('/models'));
      served.add(r.headers.get('x-kmi-key-label')!);
      await r.arrayBuffer();
    }
    expect([...served].sort()).toEqual(['a', 'b', 'c']);
  });

  it('unblocks all keys with {all: true} and reports nothing to do when nothing was blocked', async () => {
    h = await startDashboard({
      labels: ['a', 'b', 'c'],
      initialState: stateWithBlocked(['a', 'c']),
    });
    const all = await post('/_kmi/actions/unblock', { all: true });
    expect(all.body.unblocked).toEqual(['a', 'c']);
    expect(h.logger.audits()[0]!.fields).toMatchObject({ requested: '--all', via: 'dashboard' });
    const again = await post('/_kmi/actions/unblock', { label: 'a' });
    expect(again.body).toMatchObject({ ok: true, unblocked: [] });
    expect(again.body.message).toContain('nothing to unblock');
  });

  it('refuses bad requests: unknown label, bad JSON, GET, non-JSON bodies and other origins', async () => {
    h = await startDashboard({ initialState: stateWithBlocked(['b']) });
    const unknown = await post('/_kmi/actions/unblock', { label: 'zzz' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('kmi_unknown_label');
    expect((await post('/_kmi/actions/unblock', {})).status).toBe(400);
    const bad = await fetch(h.url('/_kmi/actions/unblock'), {
      method: 'POST',
      headers: json,
      body: '{nope',
    });
    expect(bad.status).toBe(400);
    expect((await fetch(h.url('/_kmi/actions/unblock'))).status).toBe(405);
    const form = await fetch(h.url('/_kmi/actions/unblock'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"label":"b"}',
    });
    expect(form.status).toBe(403);
    const cross = await post(
      '/_kmi/actions/unblock',
      { label: 'b' },
      { origin: 'https://evil.example' },
    );
    expect(cross.status).toBe(403);
    expect((await post('/_kmi/actions/nope', {})).status).toBe(404);
    expect((await h.stateOnDisk()).keys.b!.blocked_reason).toBe('auth');
    expect(h.logger.audits()).toEqual([]);
  });
});

describe('auto-rotate action', () => {
  it('is refused with a clear JSON error unless KMI_AUTO_ROTATE_ALLOWED=1', async () => {
    h = await startDashboard({ initialState: stateWithBlocked([], false) });
    const res = await post('/_kmi/actions/auto-rotate', { on: true });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'kmi_auto_rotate_not_allowed' });
    expect(res.body.error.message).toContain('KMI_AUTO_ROTATE_ALLOWED=1');
    expect((await h.stateOnDisk()).auto_rotate).toBe(false);
    expect(h.logger.audits()).toEqual([]);
    // Off is always allowed.
    const off = await post('/_kmi/actions/auto-rotate', { on: false });
    expect(off.status).toBe(200);
    expect(h.logger.audits()[0]).toMatchObject({
      event: 'auto_rotate_off',
      fields: { actor: 'dash-tester', via: 'dashboard' },
    });
    expect((await post('/_kmi/actions/auto-rotate', { on: 'yes' })).status).toBe(400);
  });

  it('switches on and off in state, audited, and the proxy follows at once', async () => {
    h = await startDashboard({
      labels: ['a', 'b'],
      initialState: stateWithBlocked([], false),
      env: { KMI_AUTO_ROTATE_ALLOWED: '1', KMI_AUTO_ROTATE_E2E: '0' },
    });
    const on = await post('/_kmi/actions/auto-rotate', { on: true });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ ok: true, auto_rotate: true, e2e: 'off' });
    expect(on.body.snapshot.auto_rotate).toBe(true);
    expect((await h.stateOnDisk()).auto_rotate).toBe(true);
    expect((await status()).auto_rotate).toBe(true);
    const labels: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await fetch(h.url('/models'));
      labels.push(r.headers.get('x-kmi-key-label')!);
      await r.arrayBuffer();
    }
    expect(labels.sort()).toEqual(['a', 'b']);

    const off = await post('/_kmi/actions/auto-rotate', { on: false });
    expect(off.body).toMatchObject({ ok: true, auto_rotate: false });
    expect((await h.stateOnDisk()).auto_rotate).toBe(false);
    expect((await status()).auto_rotate).toBe(false);
    expect(h.logger.audits().map((l) => [l.event, l.fields.via, l.fields.actor])).toEqual([
      ['auto_rotate_on', 'dashboard', 'dash-tester'],
      ['auto_rotate_off', 'dashboard', 'dash-tester'],
    ]);
  });
});

describe('live feed', () => {
  it('streams text/event-stream: a hello, then the requests sent through the proxy and snapshots', async () => {
    h = await startDashboard({ labels: ['a', 'b', 'c'], initialState: stateWithBlocked([]) });
    // History from before the viewer connected comes from the in-memory ring.
    await (await fetch(h.url('/models'))).arrayBuffer();
    await h.ring.flush();
    expect(h.ring.subscribers).toBe(0);

    const res = await fetch(h.url('/_kmi/ui/feed'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const feed = new FeedReader(res.body!.getReader());
    await feed.until((e) => e.some((x) => x.event === 'hello'));
    const hello = feed.events[0]!;
    expect(hello.event).toBe('hello');
    expect(hello.data.records).toHaveLength(1);
    expect(hello.data.snapshot.keys).toHaveLength(3);
    expect(hello.data.rate.counts).toHaveLength(900);
    expect(hello.data.rate.counts.reduce((a: number, b: number) => a + b, 0)).toBe(1);
    expect(h.ring.subscribers).toBe(1);

    for (let i = 0; i < 4; i++) {
      await (
        await fetch(h.url('/chat/completions'), {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
        })
      ).arrayBuffer();
    }
    await feed.until((e) => feed.records().length >= 4 && e.some((x) => x.event === 'snapshot'));
    const records = feed.records();
    expect(records.map((r) => r.endpoint)).toEqual(Array(4).fill('/chat/completions'));
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(['a', 'b', 'c']));
    expect(records[0]).toMatchObject({ method: 'POST', status: 200, failover_from: [] });
    expect(records[0].latency_ms).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(feed.events)).not.toContain(h.keys[0]!.apiKey);

    await feed.until((e) => {
      const last = e.filter((x) => x.event === 'snapshot').at(-1);
      return (
        last !== undefined && last.data.rate.counts.reduce((a: number, b: number) => a + b) >= 4
      );
    });
    const snap = feed.events.filter((x) => x.event === 'snapshot').at(-1)!.data;
    expect(snap.snapshot.distribution.sample).toBe(5);
    expect(snap.snapshot.distribution.confidence).toBeGreaterThan(0);

    // The subscription goes away with the last viewer: no work per request without a dashboard.
    await feed.cancel();
    const deadline = Date.now() + 3000;
    while (h.ring.subscribers > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(h.ring.subscribers).toBe(0);
  });

  it('reports failovers in the feed', async () => {
    h = await startDashboard({ labels: ['a', 'b'], initialState: stateWithBlocked([]) });
    h.upstream.setKey(h.keys[0]!.apiKey, { chat: { status: 500 } });
    const res = await fetch(h.url('/_kmi/ui/feed'));
    const feed = new FeedReader(res.body!.getReader());
    await feed.until((e) => e.length > 0);
    await (
      await fetch(h.url('/chat/completions'), { method: 'POST', headers: json, body: '{}' })
    ).arrayBuffer();
    await feed.until(() => feed.records().length >= 1);
    expect(feed.records()[0]).toMatchObject({ key: 'b', status: 200, failover_from: ['a'] });
    await feed.cancel();
  });
});
