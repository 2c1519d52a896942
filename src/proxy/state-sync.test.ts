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

  it('a block the CLI lifted wins over one noted but not yet written', async () => {
    const store = new MemoryStateStore(
      stateWith((s) => (s.keys.a = { ...emptyKeyState(), blocked_reason: 'auth' })),
    );
    const sync = await StateSync.open({ store, labels: ['a'], logger: nullLogger });
    // A request in flight on `a` got a 401 again: noted, not written yet (the flush waits 1 s).
    sync.block(0, 'auth', NOW, null);
    await store.update((s) => {
      s.keys.a!.blocked_reason = null;
    });
    await tick();
    expect(sync.runtimes[0]!.blockedUntilMs).toBe(0);
    sync.recordAttempt(0, NOW);
    await sync.close();
    expect(store.peek().keys.a).toMatchObject({ blocked_reason: null, request_count: 1 });
  });

  it('a flush never re-applies a block lifted on disk since its last view (under the lock)', async () => {
    const store = new MemoryStateStore(
      stateWith((s) => (s.keys.a = { ...emptyKeyState(), blocked_reason: 'auth' })),
    );
    const sync = await open(store, ['a']);
    sync.block(0, 'auth', NOW, null);
    sync.exhaust(0, NOW + 60_000);
    // The CLI's write is queued before ours: when we write, the disk no longer has the block.
    const cli = store.update((s) => {
      s.keys.a!.blocked_reason = null;
    });
    await sync.flush();
    await cli;
    expect(store.peek().keys.a).toMatchObject({
      blocked_reason: null,
      blocked_until: null,
      exhausted_until: formatUtc(NOW + 60_000),
    });
    expect(sync.runtimes[0]!.blockedUntilMs).toBe(0);
    await sync.close();
  });

  it('never goes back to a state read before its own write finished', async () => {
    const store = new GatedReadStore();
    const sync = await open(store, ['a']);
    // Someone else writes; the watch asks us to read, and that read is slow.
    store.gate = true;
    await store.update((s) => (s.auto_rotate = true));
    await tick();
    expect(store.heldReads).toBe(1);
    // Meanwhile this proxy blocks `a` and writes it.
    sync.block(0, 'payment', NOW, NOW + 60_000);
    await sync.flush();
    expect(sync.runtimes[0]!.blockedReason).toBe('payment');
    // The slow read (from before the write) arrives now: it must not lift the block.
    store.release();
    await tick();
    expect(sync.runtimes[0]!.blockedReason).toBe('payment');
    expect(sync.autoRotate).toBe(true);
    // It reads again after its write, and takes that.
    store.gate = false;
    store.release();
    await tick();
    expect(sync.runtimes[0]!.blockedReason).toBe('payment');
    expect(sync.runtimes[0]!.blockedUntilMs).toBe(NOW + 60_000);
    await sync.close();
  });

  it("update() writes what is pending together with the caller's change", async () => {
    const store = new MemoryStateStore();
    const sync = await open(store);
    sync.recordAttempt(0, NOW);
    const state = await sync.update((s) => (s.last_health_refresh = formatUtc(NOW)));
    expect(state.keys.a!.request_count).toBe(1);
    expect(store.writes).toBe(1);
    expect(store.peek().last_health_refresh).toBe(formatUtc(NOW));
    store.failNext = 1;
    await expect(sync.update(() => undefined)).rejects.toThrow(/simulated/);
    await sync.close();
  });

  it('uses its own usage check at once and keeps it until the state has a newer one', async () => {
    const store = new MemoryStateStore();
    const sync = await open(store);
    const drained = {
      fiveHour: null,
      weekly: {
        limit: 100,
        used: 100,
        remaining: 0,
        remainingRatio: 0,
        resetAt: formatUtc(NOW + 3_600_000),
      },
    };
    sync.recordUsage(0, drained, NOW);
    expect(sync.runtimes[0]).toMatchObject({
      lastUsageAtMs: NOW,
      usageEmptyUntilMs: NOW + 3_600_000,
    });
    // A rebuild from a state without the check (e.g. after a flush) keeps it.
    sync.recordAttempt(1, NOW);
    await sync.flush();
    expect(sync.runtimes[0]!.usageEmptyUntilMs).toBe(NOW + 3_600_000);
    // A newer check stored by the CLI replaces it.
    await store.update((s) => {
      s.keys.a = {
        ...emptyKeyState(),
        last_usage: {
          fiveHour: null,
          weekly: { ...drained.weekly, remaining: 50, remainingRatio: 0.5 },
        },
        last_usage_at: formatUtc(NOW + 60_000),
      };
    });
    await tick();
    expect(sync.runtimes[0]).toMatchObject({ lastUsageAtMs: NOW + 60_000, usageEmptyUntilMs: 0 });
    await sync.close();
  });
});

/** A memory store whose reads can be held back (to order a read after a write). */
class GatedReadStore extends MemoryStateStore {
  gate = false;
  heldReads = 0;
  private held: (() => void)[] = [];
  override async read(): Promise<State> {
    const snapshot = await super.read();
    if (!this.gate) return snapshot;
    this.heldReads++;
    await new Promise<void>((r) => this.held.push(r));
    return snapshot;
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
}
