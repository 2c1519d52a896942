// Issue 5 e2e: forwarding through the real proxy — paths, headers, credentials, bodies, streaming, aborts, byte-for-byte errors.
import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeUpstream } from './helpers/fake-upstream.js';
import { autoState, startHarness, within, type Harness } from './helpers/proxy-harness.js';

interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A plain node:http request: no URL normalisation, no decompression. */
function raw(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | number>;
    body?: Buffer | string;
    path?: string;
  } = {},
): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method: options.method ?? 'GET',
        path: options.path ?? `${u.pathname}${u.search}`,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

let h: Harness | null = null;
const extra: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await h?.close();
  h = null;
  for (const s of extra.splice(0)) await s.close();
});

/** An upstream whose replies the test drives by hand. */
async function manualUpstream(onRequest: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(onRequest);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const closer = {
    url: `http://127.0.0.1:${port}/coding/v1`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  extra.push(closer);
  return closer;
}

describe('proxy forwarding', () => {
  it('forwards any sub-path with its query to the upstream and marks the reply', async () => {
    h = await startHarness({ initialState: autoState() });
    const res = await fetch(h.url('/models?limit=5&x=%20y'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kmi-request-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(['a', 'b', 'c']).toContain(res.headers.get('x-kmi-key-label'));
    expect(((await res.json()) as { object: string }).object).toBe('list');
    const seen = h.upstream.requests[0]!;
    expect(seen.path).toBe('/coding/v1/models');
    expect(seen.method).toBe('GET');
    const label = res.headers.get('x-kmi-key-label');
    expect(seen.key).toBe(h.keys.find((k) => k.label === label)!.apiKey);
  });

  it('passes client headers through, drops hop-by-hop and the token, and puts the key in the form the client used', async () => {
    h = await startHarness({ env: { KMI_PROXY_TOKEN: 'tok-123456' } });
    const r1 = await raw(h.url('/chat/completions'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'KimiCLI/1.2',
        'x-msh-session': 's1',
        'anthropic-version': '2023-06-01',
        'x-kmi-proxy-token': 'tok-123456',
        authorization: 'Bearer client-secret',
        connection: 'keep-alive, x-hop',
        'x-hop': 'drop me',
        'proxy-authorization': 'Basic zzz',
        te: 'trailers',
      },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r1.status).toBe(200);
    const seen = h.upstream.requests.at(-1)!;
    expect(seen.headers['user-agent']).toBe('KimiCLI/1.2');
    expect(seen.headers['x-msh-session']).toBe('s1');
    expect(seen.headers['anthropic-version']).toBe('2023-06-01');
    expect(seen.headers['x-kmi-proxy-token']).toBeUndefined();
    expect(seen.headers['x-hop']).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers.authorization).toBe(`Bearer ${h.keys[0]!.apiKey}`);
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers.host).toBe(`127.0.0.1:${h.upstream.port}`);
    expect(JSON.parse(seen.body)).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    });

    // x-api-key in → x-api-key out; the token may also come as Authorization: Bearer.
    const r2 = await raw(h.url('/messages'), {
      method: 'POST',
      headers: {
        authorization: 'Bearer tok-123456',
        'x-api-key': 'client-key',
        'content-type': 'application/json',
      },
      body: '{"model":"m","max_tokens":5,"messages":[]}',
    });
    expect(r2.status).toBe(200);
    const seen2 = h.upstream.requests.at(-1)!;
    expect(seen2.headers['x-api-key']).toBe(h.keys[0]!.apiKey);
    expect(seen2.headers.authorization).toBeUndefined();
  });

  it('answers 404 outside the base path and 400 for dot segments, never forwarding them', async () => {
    h = await startHarness();
    const outside = await raw(h.url(''), { path: '/v1/chat/completions' });
    expect(outside.status).toBe(404);
    expect(JSON.parse(outside.body.toString()).error.code).toBe('kmi_not_found');
    for (const path of [
      '/kmi-rotor/v1/../../secret',
      '/kmi-rotor/v1/%2e%2e/x',
      '/kmi-rotor/v1/a/%2E%2E%2Fb',
      '/kmi-rotor/v1/.%2e/x',
      '/kmi-rotor/v1/..%5cx',
    ]) {
      const res = await raw(h.url(''), { path });
      expect(res.status, path).toBe(400);
      expect(res.headers['content-type']).toBe('application/json');
    }
    for (const path of ['/docs', '/openapi.json', '/kmi-rotor/v1x/models', '/']) {
      expect((await raw(h.url(''), { path })).status, path).toBe(404);
    }
    expect(h.upstream.requests).toHaveLength(0);
  });

  it('works with KMI_PROXY_BASE_PATH=/', async () => {
    h = await startHarness({ env: { KMI_PROXY_BASE_PATH: '/' } });
    expect(h.proxy.url).toBe(`http://127.0.0.1:${h.proxy.port}`);
    const res = await fetch(`${h.proxy.url}/chat/completions`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    expect(h.upstream.requests[0]!.path).toBe('/coding/v1/chat/completions');
    const health = await fetch(`${h.proxy.url}/_kmi/health`);
    expect(health.status).toBe(200);
  });

  it('listens on IPv6 loopback and reports a bracketed URL', async () => {
    h = await startHarness({ env: { KMI_PROXY_LISTEN: '[::1]:0' } });
    expect(h.proxy.url).toBe(`http://[::1]:${h.proxy.port}/kmi-rotor/v1`);
    expect((await fetch(h.url('/models'))).status).toBe(200);
  });

  it('refuses bodies over KMI_PROXY_MAX_BODY_MB with 413, by Content-Length and while streaming', async () => {
    h = await startHarness({ config: { proxyMaxBodyBytes: 1000 } });
    const big = Buffer.alloc(2000, 'a');
    const declared = await raw(h.url('/chat/completions'), { method: 'POST', body: big });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body.toString()).error.code).toBe('kmi_body_too_large');
    const anthropic = await raw(h.url('/messages'), { method: 'POST', body: big });
    expect(JSON.parse(anthropic.body.toString())).toMatchObject({
      type: 'error',
      error: { type: 'request_too_large' },
    });
    // chunked: no Content-Length, the limit is enforced while reading
    const chunked = await new Promise<number>((resolve, reject) => {
      const u = new URL(h!.url('/chat/completions'));
      const req = httpRequest(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', (err) =>
        err.message.includes('EPIPE') || err.message.includes('ECONNRESET')
          ? resolve(413)
          : reject(err),
      );
      for (let i = 0; i < 4; i++) req.write(Buffer.alloc(600, 'b'));
      req.end();
    });
    expect(chunked).toBe(413);
    const ok = await raw(h.url('/chat/completions'), {
      method: 'POST',
      body: Buffer.alloc(900, 'c'),
    });
    expect(ok.status).toBe(200);
    expect(h.upstream.requests).toHaveLength(1);
    expect(h.upstream.requests[0]!.body).toBe('c'.repeat(900));
  });

  it('streams SSE chunk by chunk: the first chunk reaches the client before the upstream sends the last', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const up = await manualUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      void released.then(() => res.end('data: last\n\n'));
    });
    h = await startHarness({ env: { KMI_UPSTREAM_BASE_URL: up.url } });
    const res = await fetch(h.url('/chat/completions'), {
      method: 'POST',
      body: '{"stream":true}',
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const first = await within(reader.read(), 5000, 'first chunk');
    expect(Buffer.from(first.value!).toString()).toBe('data: first\n\n');
    release();
    let rest = '';
    for (;;) {
      const { done, value } = await within(reader.read(), 5000, 'rest');
      if (done) break;
      rest += Buffer.from(value).toString();
    }
    expect(rest).toBe('data: last\n\n');
    await h.trace.waitFor(1);
    expect(h.trace.entries[0]!.record).toMatchObject({
      status: 200,
      stream: true,
      error_code: null,
    });
  });

  it('aborts the upstream request at once when the client disconnects mid-stream', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const up = await manualUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      res.on('close', () => upstreamClosed());
    });
    h = await startHarness({ env: { KMI_UPSTREAM_BASE_URL: up.url } });
    const controller = new AbortController();
    const res = await fetch(h.url('/chat/completions'), {
      method: 'POST',
      body: '{}',
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await within(reader.read(), 5000, 'first chunk');
    controller.abort();
    await within(closed, 5000, 'upstream close');
    await h.trace.waitFor(1);
    expect(h.trace.entries[0]!.record).toMatchObject({ status: 499, error_code: 'client_aborted' });
  });

  it('aborts the upstream request when the client leaves before the answer, and leaves nothing in flight after many aborts', async () => {
    const upstream = await startFakeUpstream({ default: { chat: { fault: 'hang' } } });
    extra.push(upstream);
    h = await startHarness({ upstream });
    for (let round = 0; round < 20; round++) {
      const controller = new AbortController();
      const pending = fetch(h.url('/chat/completions'), {
        method: 'POST',
        body: '{}',
        signal: controller.signal,
      });
      while (upstream.inFlight === 0) await new Promise((r) => setTimeout(r, 2));
      controller.abort();
      await pending.catch(() => undefined);
      await within(upstream.drained(), 5000, 'upstream in-flight back to 0');
    }
    expect(upstream.inFlight).toBe(0);
  });

  it('answers a client that leaves while its request still waits for an upstream connection', async () => {
    const upstream = await startFakeUpstream({ default: { chat: { fault: 'hang' } } });
    extra.push(upstream);
    h = await startHarness({ upstream, proxy: { upstreamConnections: 1 } });
    const first = new AbortController();
    const second = new AbortController();
    const p1 = fetch(h.url('/chat/completions'), {
      method: 'POST',
      body: '{}',
      signal: first.signal,
    });
    while (upstream.inFlight === 0) await new Promise((r) => setTimeout(r, 2));
    const p2 = fetch(h.url('/chat/completions'), {
      method: 'POST',
      body: '{}',
      signal: second.signal,
    });
    await new Promise((r) => setTimeout(r, 50));
    second.abort();
    await p2.catch(() => undefined);
    // the queued request is finished (traced) although the only connection is still busy
    await h.trace.waitFor(1);
    expect(h.trace.entries[0]!.record).toMatchObject({ status: 499, error_code: 'client_aborted' });
    first.abort();
    await p1.catch(() => undefined);
    await h.trace.waitFor(2);
    expect(upstream.requests).toHaveLength(1);
  });

  it('aborts streams mid-body for many clients and leaves no upstream request in flight', async () => {
    const upstream = await startFakeUpstream({
      default: { chat: { stream: true, chunks: 50, chunkDelayMs: 20 } },
    });
    extra.push(upstream);
    h = await startHarness({ upstream });
    const runs = Array.from({ length: 40 }, async () => {
      const controller = new AbortController();
      const res = await fetch(h!.url('/chat/completions'), {
        method: 'POST',
        body: '{}',
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      await reader.read().catch(() => undefined);
    });
    await within(Promise.all(runs), 20_000, 'aborting clients');
    await within(upstream.drained(), 10_000, 'upstream drained');
    expect(upstream.inFlight).toBe(0);
  });

  it('relays upstream error bodies byte-for-byte with their headers (gzip stays gzip)', async () => {
    const payload = gzipSync(
      Buffer.from(
        JSON.stringify({
          error: { message: 'invalid model parameter', type: 'invalid_request_error' },
        }),
      ),
    );
    const up = await manualUpstream((_req, res) => {
      res.writeHead(400, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'x-upstream-id': 'u1',
        'content-length': payload.length,
      });
      res.end(payload);
    });
    h = await startHarness({ env: { KMI_UPSTREAM_BASE_URL: up.url } });
    const res = await raw(h.url('/chat/completions'), {
      method: 'POST',
      body: '{}',
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['x-upstream-id']).toBe('u1');
    expect(res.headers['x-kmi-key-label']).toBeDefined();
    expect(res.body.equals(payload)).toBe(true);
  });

  it('relays large error bodies whole (prefix read for classification, rest streamed)', async () => {
    const big = Buffer.from(JSON.stringify({ error: { message: 'x'.repeat(200_000) } }));
    const up = await manualUpstream((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(big);
    });
    h = await startHarness({ env: { KMI_UPSTREAM_BASE_URL: up.url } });
    const res = await raw(h.url('/chat/completions'), { method: 'POST', body: '{}' });
    expect(res.status).toBe(403);
    expect(res.body.equals(big)).toBe(true);
  });

  it('sends a broken stream to the client when the upstream resets mid-stream (no retry after the first byte)', async () => {
    // chunkDelayMs lets the first events leave the upstream before it resets the socket.
    const upstream = await startFakeUpstream({
      default: { chat: { fault: 'reset-mid-stream', chunkDelayMs: 20 } },
    });
    extra.push(upstream);
    h = await startHarness({ upstream, initialState: autoState() });
    const res = await fetch(h.url('/chat/completions'), {
      method: 'POST',
      body: '{"stream":true}',
    });
    expect(res.status).toBe(200);
    await expect(within(res.text(), 5000, 'broken stream')).rejects.toThrow();
    expect(upstream.requests).toHaveLength(1);
    await h.trace.waitFor(1);
    expect(h.trace.entries[0]!.record).toMatchObject({
      status: 502,
      error_code: 'stream_aborted',
      attempts: 1,
      failover_from: [],
    });
  });

  it('answers malformed requests cleanly and keeps serving', async () => {
    h = await startHarness();
    const u = new URL(h.proxy.url);
    const net = await import('node:net');
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(u.port), u.hostname, () =>
        s.write('GARBAGE / NOT-HTTP\r\n\r\n'),
      );
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    const huge = await raw(h.url('/models'), { headers: { 'x-big': 'y'.repeat(20_000) } });
    expect(huge.status).toBe(431);
    expect(JSON.parse(huge.body.toString()).error.code).toBe('kmi_bad_request');
    expect((await fetch(h.url('/models'))).status).toBe(200);
  });
});
