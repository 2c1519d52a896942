// Issue 7 e2e: the proxy heals itself — background /usages refresh feeds selection, strict pre-check, blocklist recheck.
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyRecord } from '../src/auth/types.js';
import { manualClock } from '../src/clock.js';
import type { UsageResult } from '../src/health/usage-client.js';
import type { LogFields, Logger } from '../src/log/types.js';
import type { FetchUsages } from '../src/proxy/server.js';
import { formatUtc, type KeyState } from '../src/state/schema.js';
import { usagePayload } from './helpers/fake-upstream.js';
import { autoState, startHarness, within, type Harness } from './helpers/proxy-harness.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

class CapturingLogger implements Logger {
  readonly events: { level: string; event: string; fields: LogFields }[] = [];
  private push(level: string) {
    return (event: string, fields: LogFields = {}) =>
      void this.events.push({ level, event, fields });
  }
  debug = this.push('debug');
  info = this.push('info');
  warn = this.push('warn');
  error = this.push('error');
  audit = this.push('audit');
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  named(event: string) {
    return this.events.filter((e) => e.event === event);
  }
}

async function labelOf(): Promise<string | null> {
  const res = await fetch(h!.url('/chat/completions'), { method: 'POST', body: '{}' });
  await res.arrayBuffer();
  return res.headers.get('x-kmi-key-label');
}

async function labels(n: number): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) out.push(await labelOf());
  return out;
}

function tally(list: (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of list) out[String(l)] = (out[String(l)] ?? 0) + 1;
  return out;
}

interface StatusKey {
  label: string;
  state: string;
  eligible: boolean;
  low_on_usage: boolean;
  available_at: string | null;
  blocked_reason: string | null;
  usage_exhausted_until: string | null;
  usage: { weekly_remaining_pct: number | null; synthetic: boolean } | null;
  last_usage_at: string | null;
}
interface Status {
  keys: StatusKey[];
  usage_refresh: { last_at: string | null; ok: number; failed: number; interval_s: number };
  blocklist_recheck: { last_at: string | null; checked: string[]; unblocked: string[] };
  policy: { failing_open: boolean };
}
async function status(): Promise<Status> {
  return (await (await fetch(h!.url('/_kmi/status'))).json()) as Status;
}

const keyOf = (label: string) => h!.keys.find((k) => k.label === label)!.apiKey;
const iso = (ms: number) => formatUtc(ms);
/** Fake /usages answers for one key (the chat answers stay as they are unless given). */
function usages(label: string, body: Record<string, unknown>, status = 200, chatStatus = 200) {
  h!.upstream.setKey(keyOf(label), {
    usages: { status, body },
    chat: chatStatus === 200 ? {} : { status: chatStatus, body: { error: { message: 'nope' } } },
  });
}

async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000) {
  await within(
    (async () => {
      while (!(await check())) await new Promise((r) => setTimeout(r, 50));
    })(),
    ms,
    what,
  );
}

describe('background /usages refresh feeds selection', () => {
  it('a drained key is skipped until its window resets, and used again once restored', async () => {
    const clock = manualClock(Date.now());
    h = await startHarness({
      labels: ['a', 'b'],
      initialState: autoState(),
      env: { KMI_USAGE_CACHE_SECONDS: '600' },
      proxy: { clock },
    });
    usages('a', usagePayload({ weeklyRemaining: 0, weeklyResetAt: iso(clock.now() + 3_600_000) }));
    await h.proxy.refreshUsage();
    expect(await labels(6)).toEqual(['b', 'b', 'b', 'b', 'b', 'b']);
    const a = (await status()).keys.find((k) => k.label === 'a')!;
    expect(a).toMatchObject({ state: 'exhausted', eligible: false });
    expect(a.usage_exhausted_until).toBe(iso(clock.now() + 3_600_000));
    expect(a.available_at).toBe(a.usage_exhausted_until);

    // The window resets: the key serves again without waiting for the next refresh.
    clock.advance(3_600_000);
    expect(tally(await labels(4))).toEqual({ a: 2, b: 2 });

    // Drained again (the next window), then restored before its reset: used at once after the refresh.
    usages(
      'a',
      usagePayload({ fiveHourRemaining: 0, fiveHourResetAt: iso(clock.now() + 7_200_000) }),
    );
    await h.proxy.refreshUsage();
    expect(await labels(3)).toEqual(['b', 'b', 'b']);
    usages('a', usagePayload());
    await h.proxy.refreshUsage();
    expect(tally(await labels(4))).toEqual({ a: 2, b: 2 });

    // Every key was checked concurrently, and the checks are in the state file.
    await h.proxy.close();
    const state = await h.store.read();
    expect(state.keys.a!.last_usage_at).toBe(iso(clock.now()));
    expect(state.keys.b!.last_usage).toBeTruthy();
    expect(state.last_health_refresh).toBe(iso(clock.now()));
  });

  it('warn keys (< 20 % left) serve only when no healthy key can (KMI_ROTATE_INCLUDE_WARN=0)', async () => {
    const clock = manualClock(Date.now());
    h = await startHarness({
      labels: ['a', 'b', 'c'],
      initialState: autoState(),
      env: { KMI_USAGE_CACHE_SECONDS: '600' },
      proxy: { clock },
    });
    usages('a', usagePayload({ weeklyRemaining: 10 }));
    await h.proxy.refreshUsage();
    expect(tally(await labels(20))).toEqual({ b: 10, c: 10 });
    expect((await status()).keys.find((k) => k.label === 'a')).toMatchObject({
      low_on_usage: true,
      eligible: true,
    });
    usages('b', usagePayload({ weeklyRemaining: 0 }));
    usages('c', usagePayload({ fiveHourRemaining: 0 }));
    await h.proxy.refreshUsage();
    expect(await labels(3)).toEqual(['a', 'a', 'a']);
  });

  it('with KMI_ROTATE_INCLUDE_WARN=1, warn keys take their even turn', async () => {
    const clock = manualClock(Date.now());
    h = await startHarness({
      labels: ['a', 'b', 'c'],
      initialState: autoState(),
      env: { KMI_USAGE_CACHE_SECONDS: '600', KMI_ROTATE_INCLUDE_WARN: '1' },
      proxy: { clock },
    });
    usages('a', usagePayload({ weeklyRemaining: 10 }));
    await h.proxy.refreshUsage();
    expect(tally(await labels(21))).toEqual({ a: 7, b: 7, c: 7 });
  });

  it('a 401 from /usages blocks the key; failures are logged once, not on every pass', async () => {
    const logger = new CapturingLogger();
    h = await startHarness({
      labels: ['a', 'b', 'c'],
      initialState: autoState(),
      env: { KMI_USAGE_CACHE_SECONDS: '600' },
      proxy: { logger },
    });
    usages('a', { error: { message: 'invalid key' } }, 401);
    usages('c', { error: { message: 'busy' } }, 503);
    for (let i = 0; i < 3; i++) await h.proxy.refreshUsage();
    expect(await labels(4)).toEqual(['b', 'c', 'b', 'c']);
    const st = await status();
    expect(st.keys.find((k) => k.label === 'a')).toMatchObject({
      state: 'blocked',
      blocked_reason: 'auth',
    });
    expect(st.usage_refresh).toMatchObject({ ok: 1, failed: 1 }); // a is blocked: left to the recheck
    expect(logger.named('proxy.usage_check_failed').map((e) => e.fields.label)).toEqual(['a', 'c']);
    expect(logger.named('proxy.key_blocked')).toHaveLength(1);
  });

  it('a refresh that throws is logged once and never blocks requests', async () => {
    const logger = new CapturingLogger();
    let calls = 0;
    h = await startHarness({
      labels: ['a'],
      env: { KMI_USAGE_CACHE_SECONDS: '600' },
      proxy: {
        logger,
        fetchUsages: async () => {
          calls++;
          throw new Error('network down');
        },
      },
    });
    for (let i = 0; i < 3; i++) await h.proxy.refreshUsage();
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(logger.named('proxy.usage_refresh_failed')).toHaveLength(1);
    expect(await labelOf()).toBe('a');
  });

  it('in dry-run the refresh uses synthetic usage and calls no upstream', async () => {
    h = await startHarness({
      labels: ['a', 'b'],
      env: { KMI_DRY_RUN: '1', KMI_USAGE_CACHE_SECONDS: '600' },
    });
    await h.proxy.refreshUsage();
    const st = await status();
    for (const k of st.keys) expect(k.usage).toMatchObject({ synthetic: true });
    expect(st.usage_refresh).toMatchObject({ ok: 2, interval_s: 600 });
    expect(h.upstream.requests).toHaveLength(0);
  });

  it('the timer refreshes by itself every KMI_USAGE_CACHE_SECONDS (real clock, 1 s)', async () => {
    h = await startHarness({ labels: ['a', 'b'], env: { KMI_USAGE_CACHE_SECONDS: '1' } });
    const usageCalls = () => h!.upstream.requests.filter((r) => r.path.endsWith('/usages')).length;
    await eventually(async () => usageCalls() >= 6, 'three refreshes of two keys');
    // A drained key found by a timer-driven refresh is skipped.
    usages('a', usagePayload({ weeklyRemaining: 0 }));
    await eventually(
      async () => (await labelOf()) === 'b' && (await labelOf()) === 'b',
      'a skipped',
    );
  });
});

describe('strict pre-check (KMI_REQUIRE_USAGE_BEFORE_REQUEST=1)', () => {
  /** A fetchUsages whose first call waits until `open()`; later calls answer at once. */
  function gatedFetch(answer: (key: KeyRecord) => UsageResult) {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let first = true;
    const fetchUsages: FetchUsages = async (keys) => {
      if (first) {
        first = false;
        await gate;
      }
      return new Map(keys.map((k) => [k.label, answer(k)]));
    };
    return { fetchUsages, open: () => open() };
  }
  const healthy: UsageResult = {
    ok: true,
    snapshot: {
      fiveHour: null,
      weekly: { limit: 100, used: 10, remaining: 90, remainingRatio: 0.9, resetAt: null },
    },
  };

  it('fail-open 0: 503 naming the setting until the first refresh, then only fresh keys serve', async () => {
    const clock = manualClock(Date.now());
    const failing = new Set<string>();
    const gated = gatedFetch((k) =>
      failing.has(k.label)
        ? { ok: false, kind: 'server', status: 500, detail: 'HTTP 500' }
        : healthy,
    );
    h = await startHarness({
      labels: ['a', 'b'],
      initialState: autoState(),
      env: {
        KMI_REQUIRE_USAGE_BEFORE_REQUEST: '1',
        KMI_FAIL_OPEN_ON_EMPTY_CACHE: '0',
        KMI_USAGE_CACHE_SECONDS: '60',
      },
      proxy: { clock, fetchUsages: gated.fetchUsages },
    });
    const refused = await fetch(h.url('/chat/completions'), { method: 'POST', body: '{}' });
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('kmi_no_key_available');
    expect(body.error.message).toContain('KMI_FAIL_OPEN_ON_EMPTY_CACHE=0');
    expect(h.upstream.requests).toHaveLength(0);

    gated.open();
    await h.proxy.refreshUsage();
    expect(tally(await labels(4))).toEqual({ a: 2, b: 2 });

    // Two intervals without a successful check: stale, refused again, naming the setting.
    clock.advance(121_000);
    const stale = await fetch(h.url('/chat/completions'), { method: 'POST', body: '{}' });
    expect(stale.status).toBe(503);
    expect(((await stale.json()) as { error: { message: string } }).error.message).toContain(
      'KMI_REQUIRE_USAGE_BEFORE_REQUEST=1',
    );
    // b's check fails: only a is fresh.
    failing.add('b');
    await h.proxy.refreshUsage();
    expect(await labels(3)).toEqual(['a', 'a', 'a']);
  });

  it('fail-open 1: traffic flows until the first refresh completes, then the check applies', async () => {
    const gated = gatedFetch((k) =>
      k.label === 'b' ? { ok: false, kind: 'timeout', detail: 'slow' } : healthy,
    );
    h = await startHarness({
      labels: ['a', 'b'],
      initialState: autoState(),
      env: {
        KMI_REQUIRE_USAGE_BEFORE_REQUEST: '1',
        KMI_FAIL_OPEN_ON_EMPTY_CACHE: '1',
        KMI_USAGE_CACHE_SECONDS: '60',
      },
      proxy: { fetchUsages: gated.fetchUsages },
    });
    expect((await status()).policy.failing_open).toBe(true);
    expect(tally(await labels(4))).toEqual({ a: 2, b: 2 });
    gated.open();
    await h.proxy.refreshUsage();
    expect((await status()).policy.failing_open).toBe(false);
    expect(await labels(3)).toEqual(['a', 'a', 'a']);
  });
});

describe('blocklist recheck', () => {
  it('401 then 200: blocked by the proxy, then unblocked by a recheck (logged and audited)', async () => {
    const logger = new CapturingLogger();
    h = await startHarness({
      labels: ['a', 'b'],
      initialState: autoState(),
      env: { KMI_BLOCKLIST_RECHECK_SECONDS: '3600' },
      proxy: { logger },
    });
    usages('a', { error: { message: 'invalid key' } }, 401, 401);
    expect(await labels(2)).toEqual(['b', 'b']); // a answered 401 → failover, blocked
    expect((await status()).keys[0]).toMatchObject({ state: 'blocked', blocked_reason: 'auth' });

    await h.proxy.recheckBlocked();
    expect((await status()).keys[0]).toMatchObject({ state: 'blocked' });
    expect(logger.named('proxy.key_unblocked_by_recheck')).toHaveLength(0);

    usages('a', usagePayload());
    await h.proxy.recheckBlocked();
    const st = await status();
    expect(st.keys[0]).toMatchObject({ state: 'ok', blocked_reason: null });
    expect(st.blocklist_recheck).toMatchObject({ checked: ['a'], unblocked: ['a'] });
    expect(logger.named('proxy.key_unblocked_by_recheck')[0]).toMatchObject({
      level: 'info',
      fields: { label: 'a', reason: 'auth' },
    });
    expect(logger.named('key_unblocked_by_recheck')[0]).toMatchObject({ level: 'audit' });
    expect(tally(await labels(4))).toEqual({ a: 2, b: 2 });
    await h.proxy.close();
    const stored = (await h.store.read()).keys.a!;
    expect(stored.blocked_reason).toBeNull();
    expect(stored.last_usage_at).toEqual(expect.any(String));
  });

  it('a payment block is never lifted early: it ends at blocked_until', async () => {
    const clock = manualClock(Date.now());
    const asked: string[] = [];
    h = await startHarness({
      labels: ['a', 'b'],
      initialState: autoState({
        keys: {
          a: blocked({
            blocked_reason: 'payment',
            blocked_until: iso(clock.now() + 3_600_000),
          }),
        },
      }),
      env: { KMI_BLOCKLIST_RECHECK_SECONDS: '3600' },
      proxy: {
        clock,
        fetchUsages: async (keys) => {
          asked.push(...keys.map((k) => k.label));
          return new Map();
        },
      },
    });
    await h.proxy.recheckBlocked();
    expect(asked).toEqual([]);
    expect(await labels(2)).toEqual(['b', 'b']);
    clock.advance(3_600_000);
    expect(tally(await labels(2))).toEqual({ a: 1, b: 1 });
  });

  it('checks at most KMI_BLOCKLIST_RECHECK_MAX keys per pass, least recently checked first', async () => {
    const clock = manualClock(Date.now());
    const passes: string[][] = [];
    const t0 = clock.now();
    h = await startHarness({
      labels: ['k1', 'k2', 'k3', 'ok'],
      initialState: autoState({
        keys: {
          k1: blocked({ blocked_reason: 'auth', last_checked_at: iso(t0 - 30_000) }),
          k2: blocked({ blocked_reason: 'auth', last_checked_at: iso(t0 - 20_000) }),
          k3: blocked({ blocked_reason: 'auth', last_checked_at: iso(t0 - 10_000) }),
        },
      }),
      // Interval 0: no timer, so the passes below are exactly the ones asked for.
      env: { KMI_BLOCKLIST_RECHECK_SECONDS: '0', KMI_BLOCKLIST_RECHECK_MAX: '2' },
      proxy: {
        clock,
        fetchUsages: async (keys) => {
          passes.push(keys.map((k) => k.label));
          return new Map(
            keys.map((k) => [
              k.label,
              { ok: false, kind: 'auth', status: 401, detail: 'HTTP 401' } as UsageResult,
            ]),
          );
        },
      },
    });
    for (let i = 0; i < 3; i++) {
      await h.proxy.recheckBlocked();
      clock.advance(5000);
    }
    // Every blocked key is checked within two passes: none starves.
    expect(passes).toEqual([
      ['k1', 'k2'],
      ['k3', 'k1'],
      ['k2', 'k1'],
    ]);
    expect(await labels(2)).toEqual(['ok', 'ok']);
  });

  it('the recheck timer fires by itself (real clock, 1 s)', async () => {
    h = await startHarness({
      labels: ['a', 'b'],
      initialState: autoState({ keys: { a: blocked({ blocked_reason: 'auth' }) } }),
      env: { KMI_BLOCKLIST_RECHECK_SECONDS: '1' },
    });
    usages('a', { error: { message: 'invalid key' } }, 401);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await status()).keys[0]!.state).toBe('blocked');
    usages('a', usagePayload());
    await eventually(async () => (await status()).keys[0]!.state === 'ok', 'a unblocked');
    expect(tally(await labels(2))).toEqual({ a: 1, b: 1 });
  });
});

function blocked(extra: Partial<KeyState>): KeyState {
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
    ...extra,
  };
}
