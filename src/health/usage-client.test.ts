import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import type { KeyRecord } from '../auth/types.js';
import { keyHash, maskKey } from '../auth/mask.js';
import { manualClock } from '../clock.js';
import { fakeKey } from '../../test/helpers/kmi.js';
import {
  startFakeUpstream,
  usagePayload,
  type FakeUpstream,
} from '../../test/helpers/fake-upstream.js';
import { fetchAllUsages, fetchUsage, usagesUrl, type UsageResult } from './usage-client.js';

function keyRecord(
  label: string,
  apiKey = fakeKey(label),
  baseUrl: string | null = null,
): KeyRecord {
  return {
    label,
    apiKey,
    maskedKey: maskKey(apiKey),
    keyHash: keyHash(apiKey),
    source: `/tmp/${label}.env`,
    format: 'env',
    baseUrl,
    priority: 0,
    disabled: false,
    email: null,
    provider: null,
  };
}

function failure(r: UsageResult) {
  if (r.ok) throw new Error('expected a failure');
  return r;
}

let up: FakeUpstream;
beforeAll(async () => {
  up = await startFakeUpstream();
});
afterAll(async () => {
  await up.close();
});
beforeEach(() => {
  up.setDefault({});
  up.reset();
});

describe('fetchUsage against the fake upstream', () => {
  it('GETs {base}/usages with the bearer key and parses the snapshot', async () => {
    const key = keyRecord('ok');
    up.setKey(key.apiKey, {
      usages: { body: usagePayload({ weeklyRemaining: 40, fiveHourRemaining: 15 }) },
    });
    const r = await fetchUsage(key, { baseUrl: up.url });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.snapshot.weekly?.remainingRatio).toBeCloseTo(0.4);
    expect(r.snapshot.fiveHour?.remainingRatio).toBeCloseTo(0.15);
    const req = up.requests.at(-1);
    expect(req?.method).toBe('GET');
    expect(req?.path).toBe('/coding/v1/usages');
    expect(req?.headers.authorization).toBe(`Bearer ${key.apiKey}`);
  });

  it("uses the key's own base_url over the default", async () => {
    const key = keyRecord('own', fakeKey('own'), up.url);
    const r = await fetchUsage(key, { baseUrl: 'http://127.0.0.1:1/nowhere' });
    expect(r.ok).toBe(true);
    expect(usagesUrl(key, 'http://x')).toBe(`${up.url}/usages`);
    expect(usagesUrl(keyRecord('d'), 'http://x/v1/')).toBe('http://x/v1/usages');
  });

  it.each([
    [401, { error: { message: 'Invalid Authentication' } }, 'auth'],
    [402, { error: { message: 'Payment Required' } }, 'payment'],
    [403, { error: { message: 'You have exceeded your usage limit' } }, 'quota'],
    [403, { error: { message: 'membership expired, please recharge' } }, 'payment'],
    [400, { error: { message: 'insufficient balance' } }, 'payment'],
    [400, { error: { message: 'invalid plan parameter (see explanation)' } }, 'http'],
    [429, { error: { message: 'rate limit reached' } }, 'rate'],
    [500, 'internal error', 'server'],
    [503, { message: 'overloaded' }, 'server'],
    [404, { error: { message: 'not here' } }, 'http'],
  ] as const)('HTTP %i → %s', async (status, body, kind) => {
    const key = keyRecord(`s${status}`);
    up.setKey(key.apiKey, { usages: { status, body } });
    const r = failure(await fetchUsage(key, { baseUrl: up.url }));
    expect(r.kind).toBe(kind);
    expect(r.status).toBe(status);
    expect(r.detail).toMatch(new RegExp(`^HTTP ${status}: `));
  });

  it('masks the key when the upstream echoes it back', async () => {
    const key = keyRecord('echo');
    up.setKey(key.apiKey, {
      usages: { status: 401, body: { error: { message: `bad key ${key.apiKey}` } } },
    });
    const r = failure(await fetchUsage(key, { baseUrl: up.url }));
    expect(r.kind).toBe('auth');
    expect(r.detail).not.toContain(key.apiKey);
    expect(r.detail).toContain(key.maskedKey);
  });

  it('a 200 with a list body is a bad payload with a short excerpt', async () => {
    const key = keyRecord('list');
    up.setKey(key.apiKey, { usages: { body: '[1,2,3]' } });
    const r = failure(await fetchUsage(key, { baseUrl: up.url }));
    expect(r.kind).toBe('bad_payload');
    expect(r.status).toBe(200);
    expect(r.detail).toContain('[1,2,3]');
  });

  it('a 200 with non-JSON text is a bad payload', async () => {
    const key = keyRecord('html');
    up.setKey(key.apiKey, { usages: { body: '<html>gateway</html>' } });
    expect(failure(await fetchUsage(key, { baseUrl: up.url })).kind).toBe('bad_payload');
  });

  it('a connection reset before headers is a network failure', async () => {
    const key = keyRecord('reset');
    up.setKey(key.apiKey, { usages: { fault: 'reset-before-headers' } });
    const r = failure(await fetchUsage(key, { baseUrl: up.url }));
    expect(r.kind).toBe('network');
    expect(r.detail.length).toBeGreaterThan(0);
  });

  it('a refused connection is a network failure', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = failure(
      await fetchUsage(keyRecord('refused'), { baseUrl: `http://127.0.0.1:${port}/v1` }),
    );
    expect(r.kind).toBe('network');
    expect(r.detail).toMatch(/ECONNREFUSED/);
  });

  it('an upstream that never answers times out after timeoutMs', async () => {
    const key = keyRecord('hang');
    up.setKey(key.apiKey, { usages: { fault: 'hang' } });
    const started = Date.now();
    const r = failure(await fetchUsage(key, { baseUrl: up.url, timeoutMs: 150 }));
    expect(r.kind).toBe('timeout');
    expect(r.status).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a slow body counts against the same deadline', async () => {
    const key = keyRecord('slow');
    up.setKey(key.apiKey, { usages: { delayMs: 400 } });
    expect(failure(await fetchUsage(key, { baseUrl: up.url, timeoutMs: 100 })).kind).toBe(
      'timeout',
    );
  });

  it('works through a caller-supplied dispatcher', async () => {
    const agent = new Agent({ connections: 1 });
    try {
      const r = await fetchUsage(keyRecord('agent'), { baseUrl: up.url, dispatcher: agent });
      expect(r.ok).toBe(true);
    } finally {
      await agent.close();
    }
  });
});

describe('fetchAllUsages', () => {
  it('checks 20 keys with at most 8 requests in flight', async () => {
    up.setDefault({ usages: { delayMs: 200 } });
    const keys = Array.from({ length: 20 }, (_, i) => keyRecord(`k${String(i).padStart(2, '0')}`));
    const results = await fetchAllUsages(keys, { baseUrl: up.url });
    expect(up.maxInFlight).toBe(8);
    expect([...results.keys()]).toEqual(keys.map((k) => k.label));
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect(up.requests.filter((r) => r.path.endsWith('/usages'))).toHaveLength(20);
  });

  it('keeps each key its own result, failures included', async () => {
    const good = keyRecord('good');
    const bad = keyRecord('bad');
    up.setKey(bad.apiKey, { usages: { status: 401, body: { error: { message: 'nope' } } } });
    const results = await fetchAllUsages([good, bad], { baseUrl: up.url, concurrency: 2 });
    expect(results.get('good')?.ok).toBe(true);
    expect(results.get('bad')).toMatchObject({ ok: false, kind: 'auth' });
  });

  it('dry-run returns synthetic snapshots and sends nothing', async () => {
    const keys = [keyRecord('a'), keyRecord('b')];
    const clock = manualClock(Date.UTC(2026, 0, 5, 12));
    const results = await fetchAllUsages(keys, { baseUrl: up.url, dryRun: true, clock });
    expect(up.requests).toHaveLength(0);
    for (const r of results.values()) {
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.snapshot.synthetic).toBe(true);
    }
  });

  it('an empty key list returns an empty map', async () => {
    expect((await fetchAllUsages([], { baseUrl: up.url })).size).toBe(0);
  });
});
