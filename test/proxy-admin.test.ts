// Issue 5 e2e: admin endpoints (health, status, metrics) and the trace the proxy writes — complete, and never holding a key.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTraceWriter } from '../src/trace/writer.js';
import { usedSecrets } from './helpers/kmi.js';
import { autoState, startHarness, type Harness } from './helpers/proxy-harness.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

describe('admin endpoints', () => {
  it('health answers ok with version, dry_run and uptime', async () => {
    h = await startHarness();
    const res = await fetch(h.url('/_kmi/health'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ok: true,
      service: 'kmi',
      pid: process.pid,
      version: 'test',
      dry_run: false,
      uptime_s: expect.any(Number),
    });
    expect(h.upstream.requests).toHaveLength(0);
    expect((await fetch(h.url('/_kmi/nope'))).status).toBe(404);
    expect((await fetch(h.url('/_kmi/health'), { method: 'POST' })).status).toBe(405);
  });

  it('status lists keys masked, with state, counters and why a key is skipped', async () => {
    h = await startHarness({
      labels: ['a', 'b'],
      initialState: autoState({
        keys: {
          b: {
            last_used: null,
            request_count: 4,
            error_401: 1,
            error_403: 0,
            error_429: 0,
            error_5xx: 0,
            exhausted_until: null,
            blocked_until: null,
            blocked_reason: 'auth',
          },
        },
      }),
    });
    await (await fetch(h.url('/models'))).arrayBuffer();
    const status = (await (await fetch(h.url('/_kmi/status'))).json()) as {
      auto_rotate: boolean;
      rotation_index: number;
      upstream: string;
      dry_run: boolean;
      keys: Record<string, unknown>[];
    };
    expect(status).toMatchObject({
      auto_rotate: true,
      rotation_index: 1,
      upstream: h.upstream.url,
      dry_run: false,
    });
    expect(status.keys[0]).toMatchObject({
      label: 'a',
      masked_key: h.keys[0]!.maskedKey,
      state: 'ok',
      eligible: true,
      request_count: 1,
    });
    expect(status.keys[1]).toMatchObject({
      label: 'b',
      state: 'blocked',
      skip_reason: 'blocked',
      skip_detail: 'auth',
      request_count: 4,
      error_401: 1,
    });
    const text = JSON.stringify(status);
    for (const secret of usedSecrets) expect(text).not.toContain(secret);
  });

  it('metrics exposes requests by key and status, failovers, upstream errors and a latency histogram', async () => {
    h = await startHarness({ labels: ['a', 'b'] });
    h.upstream.setKey(h.keys[0]!.apiKey, { chat: { status: 500 } });
    for (let i = 0; i < 2; i++)
      await (await fetch(h.url('/chat/completions'), { method: 'POST', body: '{}' })).arrayBuffer();
    const res = await fetch(h.url('/_kmi/metrics'));
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('kmi_requests_total{key="b",status="200"} 2');
    expect(text).toContain('kmi_failovers_total 2');
    expect(text).toContain('kmi_upstream_errors_total{key="a",kind="status_5xx"} 2');
    expect(text).toMatch(/kmi_request_duration_seconds_bucket\{le="\+Inf"\} 2/);
    expect(text).toContain('kmi_request_duration_seconds_count 2');
  });
});

describe('trace', () => {
  it('records one entry per request with the SPEC fields, written to trace.jsonl without any key', async () => {
    h = await startHarness({
      labels: ['a', 'b'],
      initialState: autoState(),
      env: { KMI_PROXY_TOKEN: 'trace-token-1' },
    });
    const writer = createTraceWriter({
      dir: join(h.dir, 'trace'),
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: true,
      timezone: 'UTC',
      tracePrompts: true,
    });
    // Feed the real writer the same entries the proxy hands to its sink.
    const headers = { 'x-kmi-proxy-token': 'trace-token-1', 'content-type': 'application/json' };
    const body = JSON.stringify({
      model: 'm',
      messages: [{ role: 'user', content: `please use ${h.keys[0]!.apiKey} to fix the bug` }],
    });
    const res = await fetch(h.url('/chat/completions?debug=1'), { method: 'POST', headers, body });
    const requestId = res.headers.get('x-kmi-request-id');
    await res.arrayBuffer();
    await (await fetch(h.url('/models'), { headers })).arrayBuffer();
    await h.trace.waitFor(2);
    const [first, second] = h.trace.entries;
    expect(first!.record).toMatchObject({
      request_id: requestId,
      method: 'POST',
      key_label: 'a',
      key_hash: h.keys[0]!.keyHash,
      endpoint: '/chat/completions',
      status: 200,
      error_code: null,
      attempts: 1,
      failover_from: [],
      stream: false,
      dry_run: false,
      rotation_index: 0,
    });
    expect(first!.record.latency_ms).toBeGreaterThanOrEqual(0);
    expect(first!.record.ttfb_ms).not.toBeNull();
    expect(first!.promptBody?.toString()).toBe(body);
    expect(second!.record).toMatchObject({ method: 'GET', endpoint: '/models', key_label: 'b' });
    expect(second!.promptBody).toBeNull();
    for (const e of h.trace.entries) writer.record(e);
    await writer.close();
    const file = await readFile(join(h.dir, 'trace', 'trace.jsonl'), 'utf8');
    expect(file.trim().split('\n')).toHaveLength(2);
    for (const secret of usedSecrets) expect(file).not.toContain(secret);
    expect(file).not.toContain('trace-token-1');
    for (const e of h.trace.entries)
      expect(JSON.stringify(e.record)).not.toContain(h.keys[0]!.apiKey);
  });

  it('records no prompt body with KMI_TRACE_PROMPTS=0', async () => {
    h = await startHarness({ env: { KMI_TRACE_PROMPTS: '0' } });
    await (
      await fetch(h.url('/chat/completions'), {
        method: 'POST',
        body: '{"messages":[{"role":"user","content":"secret plan"}]}',
      })
    ).arrayBuffer();
    await h.trace.waitFor(1);
    expect(h.trace.entries[0]!.promptBody).toBeNull();
  });
});

describe('close', () => {
  it('lets an in-flight stream finish, then flushes counters', async () => {
    h = await startHarness({ labels: ['a'] });
    h.upstream.setDefault({ chat: { stream: true, chunks: 5, chunkDelayMs: 30 } });
    const res = await fetch(h.url('/chat/completions'), {
      method: 'POST',
      body: '{"stream":true}',
    });
    const reader = res.body!.getReader();
    await reader.read();
    const closing = h.proxy.close();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    await closing;
    expect(text).toContain('[DONE]');
    expect((await h.store.read()).keys.a!.request_count).toBe(1);
    await expect(fetch(h.url('/models'))).rejects.toThrow();
  });
});
