// RedisStateBackend against a real redis-server: round trip, atomic updates across processes, watch, expiry, redaction, outages.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@redis/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KmiError } from '../errors.js';
import { t } from '../ui/i18n/index.js';
import { HAS_REDIS, startRedis, type RedisServer } from '../../test/helpers/redis.js';
import type { StateBackend } from './backend.js';
import { blockKey, isBlocked, isExhausted, keyState, markExhausted } from './key-state.js';
import { openStateBackend, redisCachePath, type OpenStateEvent } from './open.js';
import { redactUrl } from './redis-client.js';
import { RedisStateBackend } from './redis-store.js';
import { emptyState, type State } from './schema.js';

const WORKER = fileURLToPath(new URL('../../test/helpers/redis-state-worker.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/state/open.js', import.meta.url));

let n = 0;
const nextPrefix = () => `kmi-test-${process.pid}-${++n}:`;
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

describe('redactUrl', () => {
  it('replaces only the password', () => {
    expect(redactUrl('redis://:s3cret@host:6379/2')).toBe('redis://:***@host:6379/2');
    expect(redactUrl('rediss://user:s3cret@host:6380/0')).toBe('rediss://user:***@host:6380/0');
    expect(redactUrl('redis://host:6379')).toBe('redis://host:6379');
    expect(redactUrl('not a url s3cret')).not.toContain('s3cret');
  });
});

describe.skipIf(!HAS_REDIS)('RedisStateBackend (real redis-server)', () => {
  let redis: RedisServer;
  let dir: string;
  const open: StateBackend[] = [];

  async function backend(
    prefix: string,
    options: { url?: string; onEvent?: (e: OpenStateEvent) => void; failOpen?: boolean } = {},
  ): Promise<StateBackend> {
    const b = await openStateBackend(
      {
        stateUrl: options.url ?? redis.url,
        stateDir: dir,
        enforceFilePerms: true,
        stateFailOpen: options.failOpen ?? false,
      },
      { prefix, onEvent: options.onEvent, watchIntervalMs: 50, connectTimeoutMs: 1000 },
    );
    open.push(b);
    return b;
  }

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kmi-redis-state-'));
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('reads an empty Redis as a fresh state', async () => {
    const b = await backend(nextPrefix());
    expect(b).toBeInstanceOf(RedisStateBackend);
    expect(await b.read()).toEqual(emptyState());
  });

  it('round-trips a whole state: unknown fields, usage, blocks, cooldowns, odd labels', async () => {
    const b = await backend(nextPrefix());
    const now = Date.now();
    const fixture: State = {
      ...emptyState(),
      active_index: 2,
      active_label: 'b:c',
      rotation_index: 7,
      auto_rotate: true,
      last_health_refresh: '2026-01-01T00:00:00Z',
      future_field: { nested: [1, 'two', null] },
      keys: {},
    };
    const a = keyState(fixture, 'alpha');
    a.request_count = 12;
    a.error_429 = 3;
    a.last_used = '2026-01-01T00:00:01Z';
    a.consecutive_failures = 2;
    a.last_usage = {
      fiveHour: { limit: 10, used: 4, remaining: 6, remainingRatio: 0.6, resetAt: null },
      weekly: null,
    };
    a.custom = 'kept';
    markExhausted(a, now + 60_000);
    blockKey(keyState(fixture, 'b:c'), 'payment', now, now + 120_000);
    blockKey(keyState(fixture, '__proto__'), 'auth', now, null);

    await b.update((s) => {
      Object.assign(s, structuredClone(fixture));
    });
    const back = await b.read();
    expect(back).toEqual(fixture);
    expect(Object.hasOwn(back.keys, '__proto__')).toBe(true);
    expect(isBlocked(back.keys['__proto__'] as never, Date.now())).toBe(true);
    expect(isExhausted(back.keys.alpha as never, Date.now())).toBe(true);
  });

  it('loses no update when 4 processes change the state at the same time', async () => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run "npm run build" first`);
    const prefix = nextPrefix();
    const N = 100;
    const labels = ['w1', 'w2', 'w3', 'w4'];
    const run = (label: string) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [WORKER, redis.url, prefix, dir, label, String(N)], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0 && stderr === '' ? resolve() : reject(new Error(`worker ${code}: ${stderr}`)),
        );
      });
    await Promise.all(labels.map(run));
    const state = await (await backend(prefix)).read();
    expect(state.keys.shared?.request_count).toBe(labels.length * N);
    for (const label of labels) expect(state.keys[label]?.request_count).toBe(N);
  }, 60_000);

  it("watch reports another client's change within a second", async () => {
    const prefix = nextPrefix();
    const a = await backend(prefix);
    const b = await backend(prefix);
    await a.read();
    const seen: State[] = [];
    const stop = a.watch((s) => seen.push(s));
    const started = Date.now();
    await b.update((s) => {
      s.auto_rotate = true;
    });
    await until(() => seen.some((s) => s.auto_rotate === true), 1000);
    expect(Date.now() - started).toBeLessThan(1000);
    stop();
  });

  it('lets cooldowns and timed blocks expire by themselves; a block without end stays', async () => {
    const prefix = nextPrefix();
    const b = await backend(prefix);
    const now = Date.now();
    await b.update((s) => {
      markExhausted(keyState(s, 'cool'), now + 1200);
      blockKey(keyState(s, 'timed'), 'payment', now, now + 1200);
      blockKey(keyState(s, 'forever'), 'auth', now, null);
    });
    const raw = createClient({ url: redis.url, RESP: 2 });
    await raw.connect();
    try {
      expect(await raw.exists(`${prefix}cooldown:cool`)).toBe(1);
      expect(await raw.pTTL(`${prefix}cooldown:cool`)).toBeGreaterThan(0);
      expect(await raw.pTTL(`${prefix}block:forever`)).toBe(-1);
      await until(async () => (await raw.exists(`${prefix}cooldown:cool`)) === 0, 4000);
      await until(async () => (await raw.exists(`${prefix}block:timed`)) === 0, 4000);
      const s = await b.read();
      expect(s.keys.cool?.exhausted_until).toBeNull();
      expect(s.keys.timed?.blocked_reason).toBeNull();
      expect(s.keys.forever?.blocked_reason).toBe('auth');
      expect(isBlocked(s.keys.forever as never, Date.now())).toBe(true);
    } finally {
      await raw.close();
    }
  });

  it('never prints the password: location and errors are redacted', async () => {
    const secret = 'pa55-word-xyz';
    const guarded = await startRedis({ password: secret });
    try {
      const wrong = guarded.url.replace(encodeURIComponent(secret), 'not-the-password');
      const err = await backend(nextPrefix(), { url: wrong }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KmiError);
      const message = t((err as KmiError).messageKey, (err as KmiError).params);
      expect(message).toContain('KMI_STATE_URL');
      expect(message).toContain('***');
      expect(message).not.toContain('not-the-password');
      const ok = await backend(nextPrefix(), { url: guarded.url });
      expect(ok.location).toBe(`redis://:***@127.0.0.1:${guarded.port}/0`);
      expect(JSON.stringify(await ok.read())).not.toContain(secret);
    } finally {
      await guarded.stop();
    }
  });

  it('at start with Redis down: fails naming KMI_STATE_URL, or (fail-open) serves the cache and reseeds', async () => {
    const own = await startRedis();
    const prefix = nextPrefix();
    try {
      const first = await backend(prefix, { url: own.url });
      await first.update((s) => {
        s.auto_rotate = true;
        keyState(s, 'alpha').request_count = 41;
      });
      await first.close();
      expect(existsSync(redisCachePath(dir, own.url, prefix))).toBe(true);
      await own.kill();

      const err = await backend(prefix, { url: own.url }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KmiError);
      expect((err as KmiError).messageKey).toBe('state.redisStartFailed');
      const text = t((err as KmiError).messageKey, (err as KmiError).params);
      expect(text).toContain('KMI_STATE_URL');
      expect(text).toContain('KMI_STATE_FAIL_OPEN=1');

      const events: OpenStateEvent[] = [];
      const b = await backend(prefix, {
        url: own.url,
        failOpen: true,
        onEvent: (e) => events.push(e),
      });
      expect(events[0]).toMatchObject({ kind: 'fail-open' });
      expect((await b.read()).keys.alpha?.request_count).toBe(41);
      await expect(b.update(() => undefined)).rejects.toMatchObject({ code: 'KMI_E_STATE_IO' });

      // Redis returns empty (no persistence): the last known state is written back.
      await own.restart();
      await until(() => (b as RedisStateBackend).available, 5000);
      await until(async () => {
        const fresh = await backend(prefix, { url: own.url });
        return (await fresh.read()).keys.alpha?.request_count === 41;
      }, 5000);
    } finally {
      await own.stop();
    }
  });

  it('in an outage: serves the last known state, reports once, resynchronises when Redis returns', async () => {
    const own = await startRedis();
    const prefix = nextPrefix();
    try {
      const events: OpenStateEvent[] = [];
      const b = await backend(prefix, { url: own.url, onEvent: (e) => events.push(e) });
      await b.update((s) => {
        keyState(s, 'alpha').request_count = 5;
        blockKey(keyState(s, 'beta'), 'auth', Date.now(), null);
      });
      const seen: State[] = [];
      b.watch((s) => seen.push(s));

      await own.kill();
      await until(() => events.some((e) => e.kind === 'backend-down'));
      await sleep(1500); // reconnect attempts keep failing meanwhile
      expect(events.filter((e) => e.kind === 'backend-down')).toHaveLength(1);
      expect((await b.read()).keys.alpha?.request_count).toBe(5);
      const t0 = Date.now();
      await expect(
        b.update((s) => {
          keyState(s, 'alpha').request_count++;
        }),
      ).rejects.toMatchObject({ code: 'KMI_E_STATE_IO' });
      expect(Date.now() - t0).toBeLessThan(500);

      seen.length = 0;
      await own.restart();
      await until(() => events.some((e) => e.kind === 'backend-up'), 5000);
      expect(events.map((e) => e.kind)).toEqual(['backend-down', 'backend-reseeded', 'backend-up']);
      await until(() => seen.some((s) => s.keys.beta?.blocked_reason === 'auth'), 2000);
      await b.update((s) => {
        keyState(s, 'alpha').request_count++;
      });
      expect((await b.read()).keys.alpha?.request_count).toBe(6);
    } finally {
      await own.stop();
    }
  });
});
