import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addKeyCounters, keyState } from '../state/key-state.js';
import { emptyKeyState, emptyState, formatUtc, type State } from '../state/schema.js';
import { FileStateStore } from '../state/store.js';
import { saveHealthToState } from './persist.js';
import type { UsageResult } from './usage-client.js';

const now = Date.UTC(2026, 0, 5, 12);
const stamp = formatUtc(now);
const snapshot = {
  fiveHour: null,
  weekly: {
    limit: 100,
    used: 10,
    remaining: 90,
    remainingRatio: 0.9,
    resetAt: '2026-01-09T00:00:00Z',
  },
};
const okResult: UsageResult = { ok: true, snapshot };

function memoryStore(initial: State = emptyState()) {
  const state = structuredClone(initial);
  return {
    state,
    update: async (mutate: (s: State) => void) => {
      mutate(state);
      return structuredClone(state);
    },
  };
}

describe('saveHealthToState', () => {
  it('stores usage, check times and the refresh time, keeping other fields', async () => {
    const initial = emptyState();
    initial.keys.a = { ...emptyKeyState(), request_count: 7, custom: 'kept' };
    const store = memoryStore(initial);
    const out = await saveHealthToState(
      store,
      new Map<string, UsageResult>([
        ['a', okResult],
        ['b', { ok: false, kind: 'timeout', detail: 'slow' }],
      ]),
      now,
    );
    expect(out.state.last_health_refresh).toBe(stamp);
    expect(out.state.keys.a).toMatchObject({
      request_count: 7,
      custom: 'kept',
      last_usage: snapshot,
      last_usage_at: stamp,
      last_checked_at: stamp,
    });
    expect(out.state.keys.b).toMatchObject({ last_checked_at: stamp, blocked_reason: null });
    expect(out.state.keys.b?.last_usage_at).toBeUndefined();
    expect(out.blocked).toEqual([]);
  });

  it('blocks on 401 (until rechecked) and 402 (for paymentBlockSeconds)', async () => {
    const store = memoryStore();
    const out = await saveHealthToState(
      store,
      new Map<string, UsageResult>([
        ['bad', { ok: false, kind: 'auth', status: 401, detail: 'x' }],
        ['poor', { ok: false, kind: 'payment', status: 402, detail: 'x' }],
      ]),
      now,
      { paymentBlockSeconds: 600 },
    );
    expect(out.state.keys.bad).toMatchObject({
      blocked_reason: 'auth',
      blocked_until: null,
      blocked_at: stamp,
    });
    expect(out.state.keys.poor).toMatchObject({
      blocked_reason: 'payment',
      blocked_until: formatUtc(now + 600_000),
    });
    expect(out.blocked).toEqual([
      { label: 'bad', reason: 'auth' },
      { label: 'poor', reason: 'payment' },
    ]);
  });

  it('paymentBlockSeconds=0 blocks until unblocked by hand; a longer block is not shortened', async () => {
    const store = memoryStore();
    const r = new Map<string, UsageResult>([['p', { ok: false, kind: 'payment', detail: 'x' }]]);
    await saveHealthToState(store, r, now, { paymentBlockSeconds: 0 });
    expect(store.state.keys.p).toMatchObject({ blocked_reason: 'payment', blocked_until: null });
    await saveHealthToState(store, r, now + 1000, { paymentBlockSeconds: 60 });
    expect(store.state.keys.p?.blocked_until).toBeNull();
  });

  it('a successful check lifts an auth block but not a payment block', async () => {
    const initial = emptyState();
    initial.keys.a = {
      ...emptyKeyState(),
      blocked_reason: 'auth',
      blocked_at: '2026-01-01T00:00:00Z',
    };
    initial.keys.p = {
      ...emptyKeyState(),
      blocked_reason: 'payment',
      blocked_until: formatUtc(now + 3_600_000),
    };
    const store = memoryStore(initial);
    const out = await saveHealthToState(
      store,
      new Map([
        ['a', okResult],
        ['p', okResult],
      ]),
      now,
    );
    expect(out.state.keys.a).toMatchObject({ blocked_reason: null, blocked_until: null });
    expect(out.state.keys.p).toMatchObject({ blocked_reason: 'payment' });
    expect(out.unblocked).toEqual(['a']);
  });

  describe('with the file store', () => {
    let dir = '';
    afterEach(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("merges with another writer's counters instead of overwriting them", async () => {
      dir = await mkdtemp(join(tmpdir(), 'kmi-health-'));
      const proxy = new FileStateStore({ dir, enforcePerms: true });
      const cli = new FileStateStore({ dir, enforcePerms: true });
      await proxy.update((s) => addKeyCounters(keyState(s, 'a'), { request_count: 3 }));
      const saving = saveHealthToState(cli, new Map([['a', okResult]]), now);
      const counting = proxy.update((s) =>
        addKeyCounters(keyState(s, 'a'), { request_count: 2, error_5xx: 1 }),
      );
      await Promise.all([saving, counting]);
      const final = await cli.read();
      expect(final.keys.a).toMatchObject({ request_count: 5, error_5xx: 1, last_usage_at: stamp });
      expect(final.keys.a?.last_usage).toEqual(snapshot);
      expect(final.last_health_refresh).toBe(stamp);
      await proxy.close();
      await cli.close();
    });
  });
});
