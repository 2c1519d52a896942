// StateSync: deltas merged under the store's update, batched flushes, CLI changes via watch, failed writes kept.
import { describe, expect, it } from 'vitest';
import { nullLogger } from '../log/types.js';
import { emptyKeyState, emptyState, formatUtc, type State } from '../state/schema.js';
import { MemoryStateStore } from '../../test/helpers/memory-state.js';
import { StateSync } from './state-sync.js';

const NOW = Date.UTC(2026, 0, 1);

function stateWith(mutate: (s: State) => void): State {
  const s = emptyState();
  mutate(s);
  return s;
}

async function open(store: MemoryStateStore, labels = ['a', 'b']) {
  return StateSync.open({ store, labels, logger: nullLogger, flushIntervalMs: 10 });
}

const tick = () => new Promise((r) => setTimeout(r, 30));

describe('StateSync', () => {
  it('starts from the stored state', async () => {
    const store = new MemoryStateStore(
      stateWith((s) => {
        s.rotation_index = 3;
        s.auto_rotate = true;
        s.active_label = 'b';
        s.keys.a = { ...emptyKeyState(), request_count: 5, blocked_reason: 'auth' };
      }),
    );
    const sync = await open(store);
    expect(sync.rotationIndex).toBe(3);
    expect(sync.autoRotate).toBe(true);
    expect(sync.activeLabel).toBe('b');
    expect(sync.runtimes[0]).toMatchObject({
      label: 'a',
      requestCount: 5,
      blockedReason: 'auth',
      blockedUntilMs: Infinity,
    });
    expect(sync.runtimes[1]).toMatchObject({ label: 'b', requestCount: 0, blockedUntilMs: 0 });
    await sync.close();
  });

  it('applies changes in memory at once and writes them as deltas in one batch', async () => {
    const store = new MemoryStateStore();
    const sync = await open(store);
    for (let i = 0; i < 50; i++) sync.recordAttempt(0, NOW + i * 1000);
    sync.countError(1, 'error_429');
    sync.exhaust(1, NOW + 60_000);
    sync.block(0, 'payment', NOW, NOW + 3_600_000);
    sync.setRotationIndex(1);
    expect(sync.runtimes[0]!.requestCount).toBe(50);
    expect(sync.runtimes[1]!.exhaustedUntilMs).toBe(NOW + 60_000);
    // Another writer adds to the same counters meanwhile.
    await store.update((s) => {
      s.keys.a = {
        ...(s.keys.a ?? emptyKeyState()),
        request_count: (s.keys.a?.request_count ?? 0) + 7,
      };
    });
    await sync.flush();
    const stored = store.peek();
    expect(stored.keys.a).toMatchObject({
      request_count: 57,
      last_used: formatUtc(NOW + 49_000),
      blocked_reason: 'payment',
      blocked_until: formatUtc(NOW + 3_600_000),
    });
    expect(stored.keys.b).toMatchObject({ error_429: 1, exhausted_until: formatUtc(NOW + 60_000) });
    expect(stored.rotation_index).toBe(1);
    expect(store.writes).toBe(2);
    await sync.close();
  });

  it('flushes by itself shortly after a change, not once per change', async () => {
    const store = new MemoryStateStore();
    const sync = await open(store);
    for (let i = 0; i < 100; i++) sync.recordAttempt(i % 2, NOW);
    await tick();
    await tick();
    expect(store.writes).toBe(1);
    expect(store.peek().keys.a!.request_count).toBe(50);
    await sync.close();
  });

  it('takes blocks and auto-rotate from the state written by someone else', async () => {
    const store = new MemoryStateStore(
      stateWith((s) => (s.keys.a = { ...emptyKeyState(), blocked_reason: 'auth' })),
    );
    const sync = await open(store);
    sync.recordAttempt(1, NOW);
    await store.update((s) => {
      s.keys.a!.blocked_reason = null;
      s.auto_rotate = true;
    });
    await tick();
    expect(sync.runtimes[0]!.blockedUntilMs).toBe(0);
    expect(sync.autoRotate).toBe(true);
    // the unflushed attempt is still counted on top of the new base
    expect(sync.runtimes[1]!.requestCount).toBe(1);
    await sync.close();
    expect(store.peek().keys.b!.request_count).toBe(1);
  });

  it('keeps changes whose write failed and writes them next time', async () => {
    const store = new MemoryStateStore();
    const sync = await open(store);
    store.failNext = 1;
    sync.recordAttempt(0, NOW);
    await sync.flush();
    expect(store.writes).toBe(0);
    sync.recordAttempt(0, NOW);
    await sync.flush();
    expect(store.peek().keys.a!.request_count).toBe(2);
    await sync.close();
  });

  it('counts a failure streak and resets it on success', async () => {
    const store = new MemoryStateStore();
    const sync = await open(store);
    expect(sync.recordFailure(0)).toBe(1);
    expect(sync.recordFailure(0)).toBe(2);
    sync.recordSuccess(0);
    expect(sync.runtimes[0]!.consecutiveFailures).toBe(0);
    await sync.close();
    expect(store.peek().keys.a!.consecutive_failures).toBe(0);
  });
});
