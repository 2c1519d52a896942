// Coordination: the in-memory one, and the Redis one against a real redis-server (two clients = two proxies).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HAS_REDIS, startRedis, type RedisServer } from '../../test/helpers/redis.js';
import type { StateBackend } from './backend.js';
import { LocalCoordination, type Coordination } from './coordination.js';
import { isBlocked, isExhausted } from './key-state.js';
import { clearBlock, clearExhausted, keyState } from './key-state.js';
import { openCoordination, openStateBackend } from './open.js';
import { parseUtc } from './schema.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

function tally(values: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

describe('LocalCoordination', () => {
  it('cycles round robin from the start position', async () => {
    const c = new LocalCoordination({ rotationStart: 2 });
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await c.nextRoundRobin(4));
    expect(got).toEqual([2, 3, 0, 1, 2, 3]);
    expect(await c.nextRoundRobin(0)).toBe(0);
  });

  it('keeps per-second and per-minute sliding windows per scope', async () => {
    const c = new LocalCoordination();
    const limits = { rps: 2, rpm: 3 };
    expect(await c.tryAcquireRate('global', limits, 1000)).toBe(0);
    expect(await c.tryAcquireRate('global', limits, 1100)).toBe(0);
    expect(await c.tryAcquireRate('global', limits, 1200)).toBe(800);
    expect(await c.tryAcquireRate({ label: 'global' }, limits, 1200)).toBe(0);
    expect(await c.tryAcquireRate('global', limits, 2000)).toBe(0);
    expect(await c.tryAcquireRate('global', limits, 3000)).toBe(58_000);
    expect(await c.tryAcquireRate('global', { rps: 0, rpm: 0 }, 3000)).toBe(0);
    await c.addCounters();
    expect(c.shared).toBe(false);
    expect(c.pendingWrites()).toBe(0);
  });
});

describe.skipIf(!HAS_REDIS)('RedisCoordination (real redis-server)', () => {
  let redis: RedisServer;
  let dir: string;
  let n = 0;
  const opened: { backend: StateBackend; coordination: Coordination }[] = [];

  async function proxy(prefix: string, url = redis.url) {
    const backend = await openStateBackend(
      { stateUrl: url, stateDir: dir, enforceFilePerms: true, stateFailOpen: false },
      { prefix, watchIntervalMs: 50, connectTimeoutMs: 1000 },
    );
    const coordination = await openCoordination(backend);
    const entry = { backend, coordination };
    opened.push(entry);
    return entry;
  }

  const nextPrefix = () => `kmi-coord-${process.pid}-${++n}:`;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kmi-coord-'));
  });
  afterEach(async () => {
    for (const { backend, coordination } of opened.splice(0)) {
      await coordination.close();
      await backend.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('shares one round-robin counter: 400 picks over two clients hit each of 4 keys exactly 100 times', async () => {
    const prefix = nextPrefix();
    const a = await proxy(prefix);
    const b = await proxy(prefix);
    expect(a.coordination.shared).toBe(true);
    const picks = await Promise.all(
      Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? a : b).coordination.nextRoundRobin(4)),
    );
    expect(tally(picks)).toEqual({ 0: 100, 1: 100, 2: 100, 3: 100 });
    // The counter is the state's rotation_index.
    expect((await a.backend.read()).rotation_index).toBe(400);
  });

  it('holds a global per-second limit across two clients, with the wait until the next slot', async () => {
    const prefix = nextPrefix();
    const a = await proxy(prefix);
    const b = await proxy(prefix);
    const limits = { rps: 10, rpm: 0 };
    const waits = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? a : b).coordination.tryAcquireRate('global', limits, Date.now()),
      ),
    );
    expect(waits.filter((w) => w === 0)).toHaveLength(10);
    for (const w of waits.filter((w) => w > 0)) expect(w).toBeLessThanOrEqual(1000);
    // Per-key windows are separate, and a key labelled "global" is not the global scope.
    expect(await a.coordination.tryAcquireRate({ label: 'global' }, limits, Date.now())).toBe(0);
    await sleep(Math.max(...waits) + 20);
    expect(await b.coordination.tryAcquireRate('global', limits, Date.now())).toBe(0);
  });

  it('holds a per-minute limit per key', async () => {
    const prefix = nextPrefix();
    const a = await proxy(prefix);
    const b = await proxy(prefix);
    const limits = { rps: 0, rpm: 15 };
    const waits = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).coordination.tryAcquireRate({ label: 'k1' }, limits, Date.now()),
      ),
    );
    expect(waits.filter((w) => w === 0)).toHaveLength(15);
    for (const w of waits.filter((w) => w > 0)) {
      expect(w).toBeGreaterThan(55_000);
      expect(w).toBeLessThanOrEqual(60_000);
    }
    expect(await a.coordination.tryAcquireRate({ label: 'k2' }, limits, Date.now())).toBe(0);
  });

  it('adds counters from two clients (HINCRBY) and keeps the newest last_used', async () => {
    const prefix = nextPrefix();
    const a = await proxy(prefix);
    const b = await proxy(prefix);
    const t0 = Date.UTC(2026, 0, 1);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 === 0 ? a : b).coordination.addCounters('alpha', {
          request_count: 2,
          error_429: i % 10 === 0 ? 1 : 0,
          lastUsedMs: t0 + i * 1000,
        }),
      ),
    );
    await b.coordination.addCounters('alpha', { consecutiveFailures: 3 });
    const s = await a.backend.read();
    expect(s.keys.alpha).toMatchObject({
      request_count: 100,
      error_429: 5,
      consecutive_failures: 3,
      last_used: '2026-01-01T00:00:49Z',
    });
  });

  it("makes a 429 seen by one proxy visible to the other's watch, and cooldowns expire", async () => {
    const prefix = nextPrefix();
    const a = await proxy(prefix);
    const b = await proxy(prefix);
    let seen = false;
    const stop = b.backend.watch((s) => {
      const ks = s.keys.alpha;
      if (ks && isExhausted(ks, Date.now())) seen = true;
    });
    const until1 = Date.now() + 2000;
    await a.coordination.setCooldown('alpha', until1);
    await a.coordination.setCooldown('alpha', until1 - 1500); // never shortens
    await until(() => seen, 1000);
    const s = await b.backend.read();
    expect(parseUtc(s.keys.alpha?.exhausted_until)).toBe(Math.floor(until1 / 1000) * 1000);
    await until(async () => (await a.backend.read()).keys.alpha?.exhausted_until === null, 4000);
    stop();
  });

  it('blocks with and without an end; `kmi unblock` (store.update) lifts them', async () => {
    const prefix = nextPrefix();
    const a = await proxy(prefix);
    const now = Date.now();
    await a.coordination.setBlock('paid', 'payment', now + 60_000, now);
    await a.coordination.setBlock('bad', 'auth', null, now);
    let s = await a.backend.read();
    expect(s.keys.paid).toMatchObject({ blocked_reason: 'payment' });
    expect(isBlocked(s.keys.bad as never, Date.now() + 10 * 365 * 86_400_000)).toBe(true);
    await a.backend.update((st) => {
      for (const l of ['paid', 'bad']) {
        clearBlock(keyState(st, l));
        clearExhausted(keyState(st, l));
      }
    });
    s = await a.backend.read();
    expect(s.keys.paid?.blocked_reason).toBeNull();
    expect(s.keys.bad?.blocked_reason).toBeNull();
  });

  it('keeps working while Redis is down (local fallback, queued writes) and catches up after', async () => {
    const own = await startRedis();
    try {
      const prefix = nextPrefix();
      const a = await proxy(prefix, own.url);
      await a.coordination.addCounters('alpha', { request_count: 10 });
      await a.backend.read();
      await own.kill();
      await until(() => !a.coordination.available(), 3000);

      const picks = [];
      for (let i = 0; i < 8; i++) picks.push(await a.coordination.nextRoundRobin(4));
      expect(tally(picks)).toEqual({ 0: 2, 1: 2, 2: 2, 3: 2 });
      const limits = { rps: 3, rpm: 0 };
      const waits = [];
      for (let i = 0; i < 5; i++)
        waits.push(await a.coordination.tryAcquireRate('global', limits, Date.now()));
      expect(waits.filter((w) => w === 0)).toHaveLength(3);
      await a.coordination.addCounters('alpha', { request_count: 5 });
      await a.coordination.setCooldown('beta', Date.now() + 60_000);
      expect(a.coordination.pendingWrites()).toBe(2);

      await own.restart();
      await until(() => a.coordination.pendingWrites() === 0, 5000);
      await until(async () => (await a.backend.read()).keys.alpha?.request_count === 15, 3000);
      const s = await a.backend.read();
      expect(isExhausted(s.keys.beta as never, Date.now())).toBe(true);
    } finally {
      await own.stop();
    }
  });
});
