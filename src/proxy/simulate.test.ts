// The dry-run upstream: shapes per endpoint, SSE framing, faults in both dialects.
import { describe, expect, it } from 'vitest';
import { simulateUpstream } from './simulate.js';
import type { UpstreamReply } from './upstream.js';

const text = async (body: UpstreamReply['body']) =>
  (await body.readPrefix(Infinity)).prefix.toString();

const req = (rest: string, body: unknown = null, method = 'POST', label = 'demo') => ({
  method,
  rest,
  body: body === null ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  label,
});

describe('simulateUpstream', () => {
  it('answers chat completions and echoes the model', async () => {
    const r = simulateUpstream(req('/chat/completions', { model: 'kimi-k2', messages: [] }));
    expect(r.status).toBe(200);
    expect(JSON.parse(await text(r.body))).toMatchObject({
      object: 'chat.completion',
      model: 'kimi-k2',
    });
  });

  it('streams well-formed SSE for both dialects', async () => {
    const openai = await text(simulateUpstream(req('/chat/completions', { stream: true })).body);
    const events = openai.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    for (const e of events.slice(0, -1))
      expect(() => JSON.parse(e.slice('data: '.length))).not.toThrow();
    const anthropic = await text(simulateUpstream(req('/messages', { stream: true })).body);
    const names = [...anthropic.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(names[0]).toBe('message_start');
    expect(names.at(-1)).toBe('message_stop');
  });

  it('answers /models, /usages and count_tokens, and 404 elsewhere', async () => {
    expect(simulateUpstream(req('/models', null, 'GET')).status).toBe(200);
    expect(
      JSON.parse(await text(simulateUpstream(req('/usages', null, 'GET')).body)),
    ).toMatchObject({ dry_run: true });
    expect(
      JSON.parse(
        await text(simulateUpstream(req('/messages/count_tokens', { messages: [] })).body),
      ),
    ).toHaveProperty('input_tokens');
    expect(simulateUpstream(req('/nope', null, 'GET')).status).toBe(404);
  });

  it('injects faults per label in the endpoint’s dialect', async () => {
    const faults = { demo: '429' as const };
    const r = simulateUpstream(req('/messages', {}), { faults });
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('30');
    expect(JSON.parse(await text(r.body))).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error' },
    });
    expect(simulateUpstream(req('/chat/completions', {}), { faults: { demo: '402' } }).status).toBe(
      402,
    );
    expect(simulateUpstream(req('/chat/completions', {}), { faults: { demo: '401' } }).status).toBe(
      401,
    );
    expect(simulateUpstream(req('/chat/completions', {}), { faults: { demo: '5xx' } }).status).toBe(
      503,
    );
    expect(
      simulateUpstream(req('/chat/completions', {}), { faults: { other: '5xx' } }).status,
    ).toBe(200);
  });

  it('rejects bodies that are not JSON objects', () => {
    expect(simulateUpstream(req('/chat/completions', '{oops')).status).toBe(400);
    expect(simulateUpstream(req('/chat/completions', '[1]')).status).toBe(400);
  });
});
