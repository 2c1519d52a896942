// Issue 5 e2e: real client libraries (openai, @anthropic-ai/sdk) pointed at the proxy — live through the fake upstream and in dry-run.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { autoState, startHarness, type Harness } from './helpers/proxy-harness.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

const TOKEN = 'sdk-proxy-token-42';

for (const mode of ['live', 'dry-run'] as const) {
  describe(`SDKs through the proxy (${mode})`, () => {
    const start = async () => {
      h = await startHarness({
        env: { KMI_PROXY_TOKEN: TOKEN, KMI_DRY_RUN: mode === 'dry-run' ? '1' : '0' },
        initialState: autoState(),
      });
      return h;
    };

    it('openai: chat completion and streaming, the token as apiKey', async () => {
      await start();
      const client = new OpenAI({ baseURL: h!.proxy.url, apiKey: TOKEN, maxRetries: 0 });
      const done = await client.chat.completions.create({
        model: 'kimi-for-coding',
        messages: [{ role: 'user', content: 'hello' }],
      });
      expect(done.choices[0]!.message.content).toBeTruthy();
      const stream = await client.chat.completions.create({
        model: 'kimi-for-coding',
        messages: [{ role: 'user', content: 'hello' }],
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text.length).toBeGreaterThan(0);
      const models = await client.models.list();
      expect(models.data[0]!.id).toBe('kimi-for-coding');
      if (mode === 'live') {
        for (const r of h!.upstream.requests) expect(r.headers.authorization).not.toContain(TOKEN);
      }
    });

    it('anthropic: messages and streaming (x-api-key carries the token; the upstream gets x-api-key with the key)', async () => {
      await start();
      const client = new Anthropic({ baseURL: h!.proxy.url, apiKey: TOKEN, maxRetries: 0 });
      const msg = await client.messages.create({
        model: 'kimi-for-coding',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'hello' }],
      });
      expect(msg.content[0]!.type).toBe('text');
      const stream = client.messages.stream({
        model: 'kimi-for-coding',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'hello' }],
      });
      let text = '';
      stream.on('text', (t) => (text += t));
      const final = await stream.finalMessage();
      expect(text.length).toBeGreaterThan(0);
      expect(final.stop_reason).toBe('end_turn');
      if (mode === 'live') {
        const seen = h!.upstream.requests.filter((r) => r.path.endsWith('/messages'));
        expect(seen).toHaveLength(2);
        for (const r of seen) {
          expect(h!.keys.map((k) => k.apiKey)).toContain(r.headers['x-api-key']);
          expect(r.headers.authorization).toBeUndefined();
        }
      }
    });
  });
}
