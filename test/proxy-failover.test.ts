// Issue 5 e2e: SPEC §7.3 row by row through the real proxy — what each upstream answer does to the key and what the client gets.
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../src/clock.js';
import { formatUtc, type KeyState, type State } from '../src/state/schema.js';
import { startFakeUpstream, type FakeReply, type FakeUpstream } from './helpers/fake-upstream.js';
import { usedSecrets } from './helpers/kmi.js';
import {
  startHarness,
  within,
  type Harness,
  type HarnessOptions,
} from './helpers/proxy-harness.js';

let h: Harness | null = null;
let upstream: FakeUpstream | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
  await upstream?.close();
  upstream = null;
});

const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);

/** Two keys, manual mode with `a` active; `a` answers `reply`, `b` answers normally. */
async function withFirstKey(reply: FakeReply, options: HarnessOptions = {}): Promise<Harness> {
  upstream = await startFakeUpstream();
  h = await startHarness({
    labels: ['a', 'b'],
    upstream,
    ...options,
    proxy: { clock, ...options.proxy },
  });
  upstream.setKey(h.keys[0]!.apiKey, { chat: reply });
  return h;
}

async function post(
  path = '/chat/completions',
  body = '{"model":"m","messages":[]}',
): Promise<Response> {
  return fetch(h!.url(path), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
}

/** Close the proxy (flushing its counters) and read the state file. */
async function flushedState(): Promise<State> {
  await h!.proxy.close();
  return h!.store.read();
}

function keyState(state: State, label: string): KeyState {
  return state.keys[label]!;
}

describe('classification and failover', () => {
  it('2xx: success counted, answer relayed', async () => {
    await withFirstKey({});
    const res = await post();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kmi-key-label')).toBe('a');
    const a = keyState(await flushedState(), 'a');
    expect(a).toMatchObject({
      request_count: 1,
      error_401: 0,
      blocked_reason: null,
      exhausted_until: null,
    });
    expect(a.last_used).toBe(formatUtc(clock.now()));
  });

  for (const status of [400, 404, 413, 422]) {
    it(`${status}: the client's fault — relayed as is, key not blamed, no failover`, async () => {
      const body = {
        error: {
          message: 'invalid plan parameter, see the explanation',
          type: 'invalid_request_error',
        },
      };
      await withFirstKey({ status, body });
      const res = await post();
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual(body);
      expect(res.headers.get('x-kmi-key-label')).toBe('a');
      expect(upstream!.requests).toHaveLength(1);
      const a = keyState(await flushedState(), 'a');
      expect(a.blocked_reason).toBeNull();
      expect(a.exhausted_until).toBeNull();
    });
  }

  it('401: key blocked for auth (no end time), request served by the next key', async () => {
    await withFirstKey({ status: 401, body: { error: { message: 'Invalid Authentication' } } });
    const res = await post();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kmi-key-label')).toBe('b');
    await h!.trace.waitFor(1);
    expect(h!.trace.entries[0]!.record).toMatchObject({
      key_label: 'b',
      attempts: 2,
      failover_from: ['a'],
      status: 200,
    });
    // the next request skips `a` without asking the upstream
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    expect(upstream!.countsByKey()[h!.keys[0]!.apiKey]).toBe(1);
    const a = keyState(await flushedState(), 'a');
    expect(a).toMatchObject({ blocked_reason: 'auth', blocked_until: null, error_401: 1 });
  });

  it('402: key blocked for payment for KMI_PAYMENT_BLOCK_SECONDS', async () => {
    await withFirstKey({ status: 402, body: { error: { message: 'Payment Required' } } });
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    const a = keyState(await flushedState(), 'a');
    expect(a.blocked_reason).toBe('payment');
    expect(a.blocked_until).toBe(formatUtc(clock.now() + 3600 * 1000));
  });

  it('400 with a payment phrase: blocked for payment; KMI_PAYMENT_BLOCK_SECONDS=0 blocks until unblocked', async () => {
    await withFirstKey(
      {
        status: 400,
        body: {
          error: {
            message: 'Your account is suspended due to insufficient balance, please recharge',
          },
        },
      },
      { env: { KMI_PAYMENT_BLOCK_SECONDS: '0' } },
    );
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    const a = keyState(await flushedState(), 'a');
    expect(a).toMatchObject({ blocked_reason: 'payment', blocked_until: null });
  });

  it('403 with a payment phrase (Chinese too): blocked for payment', async () => {
    await withFirstKey({ status: 403, body: { error: { message: '账户欠费，请充值' } } });
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    expect(keyState(await flushedState(), 'a')).toMatchObject({
      blocked_reason: 'payment',
      error_403: 1,
    });
  });

  it('403 with a quota message: exhausted until the reset time given in the body', async () => {
    const reset = clock.now() + 2 * 3600_000;
    await withFirstKey({
      status: 403,
      body: {
        error: {
          message: 'You have reached your usage limit for this window',
          resetTime: new Date(reset).toISOString(),
        },
      },
    });
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    const a = keyState(await flushedState(), 'a');
    expect(a.exhausted_until).toBe(formatUtc(reset));
    expect(a.error_403).toBe(1);
    expect(a.blocked_reason).toBeNull();
  });

  it('403 with quota text and no reset: exhausted for the cooldown', async () => {
    await withFirstKey(
      { status: 403, body: { error: { message: 'quota exceeded' } } },
      { env: { KMI_ROTATION_COOLDOWN_SECONDS: '120' } },
    );
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    expect(keyState(await flushedState(), 'a').exhausted_until).toBe(
      formatUtc(clock.now() + 120_000),
    );
  });

  it('other 403: error counted, answer relayed, no failover', async () => {
    await withFirstKey({
      status: 403,
      body: { error: { message: 'forbidden: model not allowed' } },
    });
    const res = await post();
    expect(res.status).toBe(403);
    expect(res.headers.get('x-kmi-key-label')).toBe('a');
    expect(keyState(await flushedState(), 'a')).toMatchObject({
      error_403: 1,
      blocked_reason: null,
      exhausted_until: null,
    });
  });

  it('429 with Retry-After seconds: exhausted that long', async () => {
    await withFirstKey({
      status: 429,
      headers: { 'retry-after': '30' },
      body: { error: { message: 'slow down' } },
    });
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    expect(keyState(await flushedState(), 'a')).toMatchObject({
      exhausted_until: formatUtc(clock.now() + 30_000),
      error_429: 1,
    });
  });

  it('429 with a Retry-After date beyond the cooldown: capped at the cooldown', async () => {
    const far = new Date(clock.now() + 3 * 3600_000).toUTCString();
    await withFirstKey(
      { status: 429, headers: { 'retry-after': far } },
      { env: { KMI_ROTATION_COOLDOWN_SECONDS: '300' } },
    );
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    expect(keyState(await flushedState(), 'a').exhausted_until).toBe(
      formatUtc(clock.now() + 300_000),
    );
  });

  it('429 without Retry-After: exhausted for the cooldown', async () => {
    await withFirstKey({ status: 429 }, { env: { KMI_ROTATION_COOLDOWN_SECONDS: '77' } });
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    expect(keyState(await flushedState(), 'a').exhausted_until).toBe(
      formatUtc(clock.now() + 77_000),
    );
  });

  it('5xx: retried on the same key with exponential backoff, then failover', async () => {
    const sleeps: number[] = [];
    await withFirstKey(
      { status: 502, body: 'bad gateway' },
      {
        env: { KMI_PROXY_RETRY_MAX: '2', KMI_PROXY_RETRY_BASE_MS: '100' },
        proxy: { random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) },
      },
    );
    const res = await post();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kmi-key-label')).toBe('b');
    expect(sleeps).toEqual([100, 200]);
    expect(upstream!.countsByKey()[h!.keys[0]!.apiKey]).toBe(3);
    await h!.trace.waitFor(1);
    expect(h!.trace.entries[0]!.record).toMatchObject({ attempts: 4, failover_from: ['a'] });
    const a = keyState(await flushedState(), 'a');
    expect(a.error_5xx).toBe(3);
    // three failures in a row → a 60 s rest
    expect(a.exhausted_until).toBe(formatUtc(clock.now() + 60_000));
  });

  it('5xx then success on retry: the client gets the success, the streak resets', async () => {
    await withFirstKey(
      { status: 500 },
      {
        env: { KMI_PROXY_RETRY_MAX: '1' },
        proxy: { sleep: async () => upstream!.setKey(h!.keys[0]!.apiKey, {}) },
      },
    );
    const res = await post();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kmi-key-label')).toBe('a');
    const a = keyState(await flushedState(), 'a');
    expect(a).toMatchObject({ error_5xx: 1, exhausted_until: null, consecutive_failures: 0 });
  });

  it('connection reset before headers: counted as an upstream error, failover', async () => {
    await withFirstKey({ fault: 'reset-before-headers' });
    const res = await post();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kmi-key-label')).toBe('b');
    expect(keyState(await flushedState(), 'a')).toMatchObject({
      error_5xx: 1,
      consecutive_failures: 1,
    });
  });

  it('timeout before headers (KMI_UPSTREAM_TIMEOUT_SECONDS): failover', async () => {
    await withFirstKey({ fault: 'hang' }, { config: { upstreamTimeoutMs: 300 } });
    const res = await within(post(), 10_000, 'timed-out request');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kmi-key-label')).toBe('b');
    expect(keyState(await flushedState(), 'a').error_5xx).toBe(1);
  });

  it('body silence past KMI_UPSTREAM_TIMEOUT_SECONDS cuts the stream; steady chunks never time out', async () => {
    // Chunks every 150 ms for ~0.75 s in all: each gap is inside the 400 ms limit.
    await withFirstKey(
      { stream: true, chunks: 5, chunkDelayMs: 150 },
      { config: { upstreamTimeoutMs: 400 } },
    );
    const steady = await within(post('/chat/completions', '{"stream":true}'), 10_000, 'steady');
    expect(await within(steady.text(), 10_000, 'steady body')).toContain('[DONE]');

    // The first chunk at once, then 6 s of silence: cut after ~0.4–1.5 s, the upstream request ended.
    upstream!.setKey(h!.keys[0]!.apiKey, {
      chat: { stream: true, chunks: 2, chunkDelayMs: 6_000 },
    });
    const t0 = performance.now();
    const stalled = await within(post('/chat/completions', '{"stream":true}'), 10_000, 'stalled');
    expect(stalled.status).toBe(200);
    const text = await within(
      stalled.text().catch(() => 'cut'),
      10_000,
      'the stalled body to end',
    );
    expect(text).not.toContain('[DONE]');
    expect(performance.now() - t0).toBeLessThan(4_000);
    await within(upstream!.drained(), 5_000, 'the upstream request to be closed');
  });

  it('three failing requests in a row put a key in a 60 s cooldown', async () => {
    await withFirstKey({ status: 503 });
    for (let i = 0; i < 3; i++) expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    expect((await post()).headers.get('x-kmi-key-label')).toBe('b');
    expect(upstream!.countsByKey()[h!.keys[0]!.apiKey]).toBe(3);
    expect(keyState(await flushedState(), 'a').exhausted_until).toBe(
      formatUtc(clock.now() + 60_000),
    );
  });

  it('with every key cooling down: 429 with Retry-After = soonest recovery, labels only', async () => {
    upstream = await startFakeUpstream({
      default: { chat: { status: 429, headers: { 'retry-after': '40' } } },
    });
    h = await startHarness({ labels: ['a', 'b'], upstream, proxy: { clock } });
    upstream.setKey(h.keys[1]!.apiKey, { chat: { status: 429, headers: { 'retry-after': '20' } } });
    const res = await post();
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('20');
    const body = (await res.json()) as { error: { message: string; type: string; code: string } };
    expect(body.error.code).toBe('kmi_no_key_available');
    expect(body.error.message).toMatch(/a: cooling down/);
    expect(body.error.message).toMatch(/b: cooling down/);
    for (const k of h.keys) expect(body.error.message).not.toContain(k.apiKey);
    // Anthropic endpoints get Anthropic-shaped errors, and now nothing reaches the upstream.
    const msg = await post('/messages');
    expect(msg.status).toBe(429);
    expect(await msg.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(upstream.requests).toHaveLength(2);
  });

  it('with every key blocked: 503 naming why each key was skipped', async () => {
    upstream = await startFakeUpstream({ default: { chat: { status: 401 } } });
    h = await startHarness({ labels: ['a', 'b', 'c'], upstream, proxy: { clock } });
    const res = await post();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeNull();
    const text = await res.text();
    expect(text).toMatch(/a: blocked \(auth/);
    expect(text).toMatch(/c: blocked \(auth/);
    for (const k of h.keys) expect(text).not.toContain(k.apiKey);
    await h.trace.waitFor(1);
    expect(h.trace.entries[0]!.record).toMatchObject({
      status: 503,
      error_code: 'no_key_available',
      key_label: null,
      failover_from: ['a', 'b', 'c'],
    });
  });

  it('tries at most KMI_PROXY_FAILOVER_MAX other keys', async () => {
    upstream = await startFakeUpstream({ default: { chat: { status: 500 } } });
    h = await startHarness({
      labels: ['a', 'b', 'c', 'd'],
      upstream,
      env: { KMI_PROXY_FAILOVER_MAX: '1' },
      proxy: { clock },
    });
    const res = await post();
    expect(res.status).toBe(503);
    expect(upstream.requests).toHaveLength(2);
    expect(await res.text()).toMatch(/KMI_PROXY_FAILOVER_MAX/);
  });

  it('replays the buffered request body on every attempt', async () => {
    await withFirstKey({ status: 401 });
    const body = JSON.stringify({
      model: 'm',
      messages: [{ role: 'user', content: 'x'.repeat(100_000) }],
    });
    expect((await post('/chat/completions', body)).status).toBe(200);
    expect(upstream!.requests.map((r) => r.body.length)).toEqual([body.length, body.length]);
  });

  it('never leaks keys into client-visible errors', async () => {
    await withFirstKey({ status: 401 });
    upstream!.setKey(h!.keys[1]!.apiKey, { chat: { status: 402 } });
    const text = await (await post()).text();
    for (const secret of usedSecrets) expect(text).not.toContain(secret);
  });
});
