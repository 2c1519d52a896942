// Issue 5 e2e: the dry-run simulator behind the real proxy — Kimi-shaped answers, SSE, /models, /usages, faults, rotation and trace as live.
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulatedFault } from '../src/proxy/server.js';
import { autoState, startHarness, type Harness } from './helpers/proxy-harness.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

async function dryRun(faults: Record<string, SimulatedFault> = {}, auto = true): Promise<Harness> {
  h = await startHarness({
    env: { KMI_DRY_RUN: '1' },
    initialState: autoState({ auto_rotate: auto }),
    proxy: { simulate: { faults } },
  });
  return h;
}

async function readSse(res: Response): Promise<string> {
  return res.text();
}

describe('dry-run simulator', () => {
  it('answers OpenAI chat completions without touching the upstream', async () => {
    await dryRun();
    const res = await fetch(h!.url('/chat/completions'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'kimi-k2', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kmi-dry-run')).toBe('1');
    const body = (await res.json()) as {
      object: string;
      model: string;
      choices: { message: { content: string } }[];
    };
    expect(body.object).toBe('chat.completion');
    expect(body.model).toBe('kimi-k2');
    expect(body.choices[0]!.message.content).toMatch(/dry run/);
    expect(h!.upstream.requests).toHaveLength(0);
  });

  it('streams OpenAI chunks ending in [DONE] when stream: true', async () => {
    await dryRun();
    const res = await fetch(h!.url('/chat/completions'), {
      method: 'POST',
      body: JSON.stringify({ stream: true, messages: [] }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await readSse(res);
    const events = text.trim().split('\n\n');
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(events[0]!.slice(6)).object).toBe('chat.completion.chunk');
  });

  it('answers Anthropic messages as JSON and as SSE', async () => {
    await dryRun();
    const json = await fetch(h!.url('/messages'), {
      method: 'POST',
      body: JSON.stringify({ model: 'k', max_tokens: 10, messages: [] }),
    });
    expect(await json.json()).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text' }],
      stop_reason: 'end_turn',
    });
    const sse = await fetch(h!.url('/messages'), {
      method: 'POST',
      body: JSON.stringify({ stream: true, messages: [] }),
    });
    const text = await readSse(sse);
    expect(text.startsWith('event: message_start\n')).toBe(true);
    expect(text.trim().endsWith('data: {"type":"message_stop"}')).toBe(true);
  });

  it('answers /models and a synthetic /usages in the Kimi shape', async () => {
    await dryRun();
    const models = (await (await fetch(h!.url('/models'))).json()) as { data: { id: string }[] };
    expect(models.data[0]!.id).toBe('kimi-for-coding');
    const usages = (await (await fetch(h!.url('/usages'))).json()) as Record<string, unknown>;
    expect(usages).toMatchObject({ dry_run: true, usage: { limit: '100', remaining: '80' } });
    expect((usages.limits as unknown[])[0]).toMatchObject({
      window: { duration: 300, timeUnit: 'TIME_UNIT_MINUTE' },
    });
  });

  it('rejects invalid JSON where the body must be read, in the endpoint’s error shape', async () => {
    await dryRun();
    const openai = await fetch(h!.url('/chat/completions'), { method: 'POST', body: '{not json' });
    expect(openai.status).toBe(400);
    expect(((await openai.json()) as { error: { type: string } }).error.type).toBe(
      'invalid_request_error',
    );
    const anthropic = await fetch(h!.url('/messages'), { method: 'POST', body: '[1,2' });
    expect(await anthropic.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error' },
    });
  });

  it('rotates, counts and traces as live', async () => {
    await dryRun();
    const labels = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(h!.url('/chat/completions'), {
        method: 'POST',
        body: '{"messages":[]}',
      });
      await res.arrayBuffer();
      labels.push(res.headers.get('x-kmi-key-label'));
    }
    expect(labels).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    await h!.trace.waitFor(6);
    expect(h!.trace.entries.every((e) => e.record.dry_run && e.record.status === 200)).toBe(true);
    await h!.proxy.close();
    const state = await h!.store.read();
    expect(state.keys.a!.request_count).toBe(2);
  });

  it('injected faults exercise failover: 429 cools a key down, 402 blocks it, 401 blocks it, 5xx counts', async () => {
    const faults: Record<string, SimulatedFault> = { a: '429', b: '402' };
    await dryRun(faults, false);
    const first = await fetch(h!.url('/chat/completions'), {
      method: 'POST',
      body: '{"messages":[]}',
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-kmi-key-label')).toBe('c');
    await h!.trace.waitFor(1);
    expect(h!.trace.entries[0]!.record.failover_from).toEqual(['a', 'b']);
    // faults are read per request: the demo may change them while the proxy runs
    faults.c = '5xx';
    const none = await fetch(h!.url('/messages'), { method: 'POST', body: '{"messages":[]}' });
    expect(none.status).toBe(503);
    expect(await none.json()).toMatchObject({ type: 'error' });
    await h!.proxy.close();
    const state = await h!.store.read();
    expect(state.keys.a!.exhausted_until).not.toBeNull();
    expect(state.keys.b!.blocked_reason).toBe('payment');
    expect(state.keys.c!.error_5xx).toBe(1);
  });
});
