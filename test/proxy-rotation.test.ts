// Issue 5 e2e: key selection through the real proxy — round-robin exactness, manual mode, skips, per-key base_url, CLI changes via the state file.
import { afterEach, describe, expect, it } from 'vitest';
import { formatUtc, type State } from '../src/state/schema.js';
import { FileStateStore } from '../src/state/store.js';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { autoState, makeKey, startHarness, within, type Harness } from './helpers/proxy-harness.js';

let h: Harness | null = null;
const others: FakeUpstream[] = [];
afterEach(async () => {
  await h?.close();
  h = null;
  for (const u of others.splice(0)) await u.close();
});

async function labelOf(path = '/chat/completions'): Promise<string | null> {
  const res = await fetch(h!.url(path), { method: 'POST', body: '{}' });
  await res.arrayBuffer();
  return res.headers.get('x-kmi-key-label');
}

function tally(labels: (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of labels) out[String(l)] = (out[String(l)] ?? 0) + 1;
  return out;
}

/** Poll until `check` passes (the proxy picks up state changes within ~1 s). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  await within(
    (async () => {
      while (!(await check())) await new Promise((r) => setTimeout(r, 50));
    })(),
    8000,
    what,
  );
}

describe('round-robin and selection', () => {
  it('400 sequential requests over 4 eligible keys: exactly 100 each (file state store)', async () => {
    h = await startHarness({ labels: ['k1', 'k2', 'k3', 'k4'], initialState: autoState() });
    const labels: (string | null)[] = [];
    for (let i = 0; i < 400; i++) labels.push(await labelOf('/models'));
    expect(tally(labels)).toEqual({ k1: 100, k2: 100, k3: 100, k4: 100 });
    expect(Object.values(h.upstream.countsByKey())).toEqual([100, 100, 100, 100]);
    await h.proxy.close();
    const state = await h.store.read();
    for (const l of ['k1', 'k2', 'k3', 'k4']) expect(state.keys[l]!.request_count).toBe(100);
    expect(state.rotation_index).toBe(0);
  });

  it('stays exact under concurrency (400 requests, 16 at a time)', async () => {
    h = await startHarness({
      labels: ['k1', 'k2', 'k3', 'k4'],
      initialState: autoState(),
      store: 'memory',
    });
    const labels: (string | null)[] = [];
    for (let batch = 0; batch < 25; batch++) {
      labels.push(...(await Promise.all(Array.from({ length: 16 }, () => labelOf()))));
    }
    expect(tally(labels)).toEqual({ k1: 100, k2: 100, k3: 100, k4: 100 });
  });

  it('continues from the stored rotation_index and skips disabled, blocked and exhausted keys', async () => {
    const future = formatUtc(Date.now() + 3600_000);
    const past = formatUtc(Date.now() - 1000);
    const keys = [
      makeKey('a'),
      makeKey('b', { disabled: true }),
      makeKey('c'),
      makeKey('d'),
      makeKey('e'),
      makeKey('f'),
    ];
    const state = autoState({
      rotation_index: 2,
      keys: {
        c: { ...blank(), blocked_reason: 'auth', blocked_until: null },
        d: { ...blank(), exhausted_until: future },
        e: { ...blank(), exhausted_until: past, blocked_reason: 'payment', blocked_until: past },
      },
    });
    h = await startHarness({ keys, initialState: state });
    const labels = [];
    for (let i = 0; i < 6; i++) labels.push(await labelOf());
    expect(labels).toEqual(['e', 'f', 'a', 'e', 'f', 'a']);
  });

  it('manual mode: every request uses the active key (active_label first, else active_index)', async () => {
    h = await startHarness({
      labels: ['a', 'b', 'c'],
      initialState: { ...autoState({ auto_rotate: false, active_index: 2 }), active_label: 'b' },
    });
    expect([await labelOf(), await labelOf(), await labelOf()]).toEqual(['b', 'b', 'b']);
    await h.store.update((s) => {
      s.active_label = 'gone';
      s.active_index = 2;
    });
    await eventually(
      async () => (await labelOf()) === 'c',
      'active_index used when active_label names no key',
    );
  });

  it('picks up CLI changes to the state file within about a second (auto on/off, unblock)', async () => {
    h = await startHarness({
      labels: ['a', 'b'],
      initialState: {
        ...autoState({ auto_rotate: false }),
        keys: { a: { ...blank(), blocked_reason: 'auth' } },
      },
    });
    expect(await labelOf()).toBe('b');
    // Another process (the CLI) writes the same state file.
    const cli = new FileStateStore({ dir: h.config.stateDir, enforcePerms: true });
    await cli.update((s) => {
      s.keys.a!.blocked_reason = null;
      s.keys.a!.blocked_until = null;
    });
    await eventually(async () => (await labelOf()) === 'a', 'unblock picked up');
    await cli.update((s) => {
      s.auto_rotate = true;
    });
    await eventually(async () => {
      const two = [await labelOf(), await labelOf()];
      return two.includes('a') && two.includes('b');
    }, 'auto-rotate picked up');
    await cli.close();
  });

  it('merges its counters with changes the CLI made meanwhile (deltas, nothing lost)', async () => {
    h = await startHarness({ labels: ['a'], initialState: autoState() });
    for (let i = 0; i < 5; i++) await labelOf();
    const cli = new FileStateStore({ dir: h.config.stateDir, enforcePerms: true });
    await cli.update((s) => {
      s.keys.a = { ...(s.keys.a ?? blank()), error_401: 7 };
      s.active_label = 'a';
    });
    for (let i = 0; i < 5; i++) await labelOf();
    await h.proxy.close();
    const state = await cli.read();
    expect(state.keys.a!.request_count).toBe(10);
    expect(state.keys.a!.error_401).toBe(7);
    expect(state.active_label).toBe('a');
    await cli.close();
  });

  it("uses each key's own base_url, and skips keys whose base_url fails the allowlist", async () => {
    const second = await startFakeUpstream();
    others.push(second);
    const keys = [
      makeKey('main'),
      makeKey('own', { baseUrl: second.url }),
      makeKey('evil', { baseUrl: `http://localhost:${second.port}/coding/v1` }),
    ];
    h = await startHarness({
      keys,
      env: { KMI_UPSTREAM_ALLOWLIST: '127.0.0.1' },
      initialState: autoState(),
    });
    const labels = [];
    for (let i = 0; i < 4; i++) labels.push(await labelOf());
    expect(labels).toEqual(['main', 'own', 'main', 'own']);
    expect(h.upstream.countsByKey()).toEqual({ [keys[0]!.apiKey]: 2 });
    expect(second.countsByKey()).toEqual({ [keys[1]!.apiKey]: 2 });
    const status = (await (await fetch(h.url('/_kmi/status'))).json()) as {
      keys: { label: string; skip_reason: string | null }[];
    };
    expect(status.keys.find((k) => k.label === 'evil')!.skip_reason).toBe('upstream_not_allowed');
  });
});

describe('rate limits', () => {
  it('global limit: 429 with Retry-After once KMI_PROXY_MAX_RPS is reached, free again after the window', async () => {
    const { manualClock } = await import('../src/clock.js');
    const clock = manualClock(Date.now());
    h = await startHarness({ env: { KMI_PROXY_MAX_RPS: '3' }, proxy: { clock } });
    for (let i = 0; i < 3; i++) expect((await fetch(h.url('/models'))).status).toBe(200);
    const limited = await fetch(h.url('/models'));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe(
      'kmi_rate_limited',
    );
    expect(h.upstream.requests).toHaveLength(3);
    clock.advance(1000);
    expect((await fetch(h.url('/models'))).status).toBe(200);
  });

  it('per-key limit: a key over its limit is skipped; all over → 429', async () => {
    const { manualClock } = await import('../src/clock.js');
    const clock = manualClock(Date.now());
    h = await startHarness({
      labels: ['a', 'b'],
      env: { KMI_PROXY_MAX_RPM_PER_KEY: '2' },
      initialState: { ...autoState({ auto_rotate: false }) },
      proxy: { clock },
    });
    const labels = [];
    for (let i = 0; i < 4; i++) labels.push(await labelOf());
    expect(labels).toEqual(['a', 'a', 'b', 'b']);
    const res = await fetch(h.url('/chat/completions'), { method: 'POST', body: '{}' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('60');
    expect(await res.text()).toMatch(/a: over its per-key rate limit/);
    clock.advance(60_000);
    expect(await labelOf()).toBe('a');
  });
});

function blank() {
  return {
    last_used: null,
    request_count: 0,
    error_401: 0,
    error_403: 0,
    error_429: 0,
    error_5xx: 0,
    exhausted_until: null,
    blocked_until: null,
    blocked_reason: null,
  } satisfies State['keys'][string];
}
