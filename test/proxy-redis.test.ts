// Issue 9: several proxies on one real redis-server act as one pool — even round robin, shared cooldowns, a global rate limit, counters that add up, and an outage mid-traffic with no client errors.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyRecord } from '../src/auth/types.js';
import { loadConfig } from '../src/config/load.js';
import type { LogFields, Logger } from '../src/log/types.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { DeferredStateBackend, openStateBackend } from '../src/state/open.js';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { makeKey, within } from './helpers/proxy-harness.js';
import { HAS_REDIS, startRedis, type RedisServer } from './helpers/redis.js';

interface Node {
  readonly proxy: RunningProxy;
  readonly store: DeferredStateBackend;
  readonly events: { level: string; event: string; fields: LogFields }[];
}

function capturingLogger(events: Node['events']): Logger {
  const at =
    (level: string) =>
    (event: string, fields: LogFields = {}) =>
      events.push({ level, event, fields });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    audit: at('audit'),
    flush: async () => {},
    close: async () => {},
  };
}

let redis: RedisServer;
let prefixSeq = 0;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  if (HAS_REDIS) redis = await startRedis();
});
afterAll(async () => {
  if (HAS_REDIS) await redis.stop();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `count` proxies sharing one Redis prefix (auto_rotate on), in front of one fake upstream. */
async function startPool(
  count: number,
  options: { labels?: readonly string[]; env?: Record<string, string> } = {},
): Promise<{ nodes: Node[]; upstream: FakeUpstream; keys: KeyRecord[] }> {
  const upstream = await startFakeUpstream();
  cleanups.push(() => upstream.close());
  const keys = (options.labels ?? ['k1', 'k2', 'k3', 'k4']).map((l) => makeKey(l));
  const prefix = `kmi-t${process.pid}-${++prefixSeq}:`;
  const nodes: Node[] = [];
  for (let n = 0; n < count; n++) {
    const dir = await mkdtemp(join(tmpdir(), 'kmi-redis-proxy-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { config } = loadConfig({
      env: {
        HOME: dir,
        KMI_STATE_DIR: join(dir, 'state'),
        KMI_AUTHS_DIR: join(dir, '_auths'),
        KMI_STATE_URL: redis.url,
        KMI_DRY_RUN: '0',
        KMI_UPSTREAM_BASE_URL: upstream.url,
        KMI_PROXY_LISTEN: '127.0.0.1:0',
        KMI_TIMEZONE: 'UTC',
        KMI_USAGE_CACHE_SECONDS: '0',
        KMI_BLOCKLIST_RECHECK_SECONDS: '0',
        ...options.env,
      },
      cwd: dir,
    });
    const store = new DeferredStateBackend(redis.url, (onEvent) =>
      openStateBackend(config, { onEvent, prefix, watchIntervalMs: 50, connectTimeoutMs: 1000 }),
    );
    if (n === 0) {
      await store.update((s) => {
        s.auto_rotate = true;
      });
    }
    const events: Node['events'] = [];
    const proxy = await startProxy({
      config,
      keys,
      store,
      logger: capturingLogger(events),
      version: 'test',
    });
    cleanups.push(async () => {
      await proxy.close();
      await store.close();
    });
    nodes.push({ proxy, store, events });
  }
  return { nodes, upstream, keys };
}

async function send(node: Node, path = '/chat/completions') {
  const res = await fetch(`${node.proxy.url}${path}`, { method: 'POST', body: '{}' });
  const text = await res.text();
  return { status: res.status, label: res.headers.get('x-kmi-key-label'), text };
}

async function health(node: Node): Promise<Record<string, unknown>> {
  return (await (await fetch(`${node.proxy.url}/_kmi/health`)).json()) as Record<string, unknown>;
}

function tally(values: (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

async function eventually(check: () => Promise<boolean> | boolean, what: string, ms = 8000) {
  await within(
    (async () => {
      while (!(await check())) await new Promise((r) => setTimeout(r, 50));
    })(),
    ms,
    what,
  );
}

describe.skipIf(!HAS_REDIS)('two proxies on one Redis', () => {
  it('400 requests alternating between them reach each of 4 keys exactly 100 times; counters add up', async () => {
    const { nodes, upstream, keys } = await startPool(2);
    const labels: (string | null)[] = [];
    for (let i = 0; i < 400; i++) {
      const r = await send(nodes[i % 2]!, '/models');
      expect(r.status).toBe(200);
      labels.push(r.label);
    }
    expect(tally(labels)).toEqual({ k1: 100, k2: 100, k3: 100, k4: 100 });
    expect(Object.values(upstream.countsByKey())).toEqual([100, 100, 100, 100]);
    const h = await health(nodes[0]!);
    expect(h).toMatchObject({
      ok: true,
      status: 'ok',
      state: { kind: 'redis', available: true },
      coordination: { shared: true, available: true },
    });
    expect(JSON.stringify(h)).not.toContain(keys[0]!.apiKey);
    // Both flush on close: the shared counters are the sum of both proxies'.
    for (const n of nodes) await n.proxy.close();
    const state = await nodes[0]!.store.read();
    for (const l of ['k1', 'k2', 'k3', 'k4']) expect(state.keys[l]!.request_count).toBe(100);
  });

  it('a 429 seen by proxy A makes proxy B skip that key', async () => {
    const { nodes, upstream, keys } = await startPool(2);
    const [a, b] = nodes as [Node, Node];
    upstream.setKey(keys[0]!.apiKey, {
      chat: { status: 429, headers: { 'retry-after': '120' }, body: { error: 'slow down' } },
    });
    // The shared round robin starts at k1: A meets the 429 and fails over.
    const first = await send(a);
    expect(first.status).toBe(200);
    expect(first.label).not.toBe('k1');
    expect(upstream.countsByKey()[keys[0]!.apiKey]).toBe(1);
    await eventually(async () => {
      const status = (await (await fetch(`${b.proxy.url}/_kmi/status`)).json()) as {
        keys: { label: string; state: string }[];
      };
      return status.keys.find((k) => k.label === 'k1')?.state === 'exhausted';
    }, 'B sees the cooldown');
    const seen: (string | null)[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await send(b);
      expect(r.status).toBe(200);
      seen.push(r.label);
    }
    expect(seen).not.toContain('k1');
    expect(upstream.countsByKey()[keys[0]!.apiKey]).toBe(1);
    expect(tally(seen)).toEqual({ k2: 4, k3: 4, k4: 4 });
  });

  it('the global rps limit holds across both proxies', async () => {
    const { nodes } = await startPool(2, { env: { KMI_PROXY_MAX_RPS: '5' } });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(nodes[i % 2]!, '/models')),
    );
    const statuses = tally(results.map((r) => String(r.status)));
    expect(statuses['200']).toBe(5);
    expect(statuses['429']).toBe(15);
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.text).toContain('kmi_rate_limited');
  });

  it('Redis killed and restarted mid-traffic: no client errors, one outage report, resync', async () => {
    const { nodes } = await startPool(2);
    const statuses: number[] = [];
    let stop = false;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) statuses.push((await send(nodes[i % 2]!, '/models')).status);
    })();
    await new Promise((r) => setTimeout(r, 400));
    await redis.kill();
    await eventually(
      async () => (await health(nodes[0]!)).status === 'degraded',
      'health reports the outage',
    );
    const down = await health(nodes[1]!);
    expect(down).toMatchObject({ ok: true, status: 'degraded', state: { available: false } });
    await new Promise((r) => setTimeout(r, 600));
    await redis.restart();
    await eventually(async () => {
      const hs = await Promise.all(nodes.map(health));
      return hs.every(
        (h) =>
          h.status === 'ok' && (h.coordination as { pending_writes: number }).pending_writes === 0,
      );
    }, 'both proxies resynchronise');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await traffic;
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    for (const n of nodes) {
      expect(n.events.filter((e) => e.event === 'proxy.state_backend_down')).toHaveLength(1);
      expect(n.events.filter((e) => e.event === 'proxy.state_backend_up')).toHaveLength(1);
    }
    // Shared again: the round robin is even across both proxies.
    const labels: (string | null)[] = [];
    for (let i = 0; i < 40; i++) labels.push((await send(nodes[i % 2]!, '/models')).label);
    expect(tally(labels)).toEqual({ k1: 10, k2: 10, k3: 10, k4: 10 });
  });
});
