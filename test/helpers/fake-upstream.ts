// A fake Kimi upstream on a real loopback port: per-key /usages payloads, chat/messages replies, SSE, delays and faults.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  | 'reset-before-headers' // destroy the socket without answering
  | 'reset-mid-stream' // send headers and a chunk or two, then destroy
  | 'hang' // never answer (until closed)
  | 'garbage-sse'; // send text/event-stream with non-SSE bytes

export interface FakeReply {
  readonly status?: number;
  /** Object → JSON; string → sent as is. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Wait before sending headers. */
  readonly delayMs?: number;
  /** Force SSE (otherwise SSE when the request JSON has `stream: true` and status is 2xx). */
  readonly stream?: boolean;
  /** SSE: number of content chunks (default 3) and the pause between them. */
  readonly chunks?: number;
  readonly chunkDelayMs?: number;
  readonly fault?: Fault;
}

export interface FakeKeyBehaviour {
  /** Reply for GET …/usages (default: a healthy payload from usagePayload()). */
  readonly usages?: FakeReply;
  /** Reply for every other path (default: a normal chat/messages/models answer). */
  readonly chat?: FakeReply;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** The key from `Authorization: Bearer` or `x-api-key`, or null. */
  readonly key: string | null;
}

export interface FakeUpstream {
  /** Base URL clients use, e.g. http://127.0.0.1:PORT/coding/v1 */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Highest number of requests in flight at once, seen so far. */
  readonly maxInFlight: number;
  readonly inFlight: number;
  /** Resolves once no request is in flight (at once when none is). */
  drained(): Promise<void>;
  /** Set or replace one key's behaviour. */
  setKey(apiKey: string, behaviour: FakeKeyBehaviour): void;
  /** Behaviour for keys without their own. */
  setDefault(behaviour: FakeKeyBehaviour): void;
  /** Count of requests per key. */
  countsByKey(): Record<string, number>;
  openSockets(): number;
  reset(): void;
  close(): Promise<void>;
}

export interface UsagePayloadOptions {
  /** Remaining percent of the weekly window (default 80). */
  readonly weeklyRemaining?: number;
  /** Remaining percent of the 5-hour window (default 90). */
  readonly fiveHourRemaining?: number;
  readonly weeklyResetAt?: string;
  readonly fiveHourResetAt?: string;
}

/** The Kimi `/usages` shape: weekly `usage` plus `limits[]` with a 300-minute window; numbers as strings. */
export function usagePayload(o: UsagePayloadOptions = {}): Record<string, unknown> {
  const weekly = o.weeklyRemaining ?? 80;
  const five = o.fiveHourRemaining ?? 90;
  const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
  return {
    usage: {
      limit: '100',
      used: String(100 - weekly),
      remaining: String(weekly),
      resetTime: o.weeklyResetAt ?? inHours(72),
    },
    limits: [
      {
        window: { duration: 300, timeUnit: 'TIME_UNIT_MINUTE' },
        detail: {
          limit: '100',
          used: String(100 - five),
          remaining: String(five),
          resetTime: o.fiveHourResetAt ?? inHours(2),
        },
      },
    ],
  };
}

function keyOf(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.toLowerCase().startsWith('bearer '))
    return auth.slice(7).trim();
  const x = req.headers['x-api-key'];
  return typeof x === 'string' ? x : null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function defaultChatBody(path: string, key: string | null): unknown {
  if (path.endsWith('/messages')) {
    return {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model: 'kimi-for-coding',
      content: [{ type: 'text', text: 'hello from fake upstream' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 3, output_tokens: 5 },
    };
  }
  if (path.endsWith('/models')) {
    return {
      object: 'list',
      data: [{ id: 'kimi-for-coding', object: 'model', owned_by: 'moonshot' }],
    };
  }
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 1,
    model: 'kimi-for-coding',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: `hello via ${key ? key.slice(-4) : 'none'}` },
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
  };
}

function sseEvents(path: string, chunks: number): string[] {
  if (path.endsWith('/messages')) {
    const events = [
      `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_fake', type: 'message', role: 'assistant', model: 'kimi-for-coding', content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 0 } } })}\n\n`,
      `event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`,
    ];
    for (let i = 0; i < chunks; i++) {
      events.push(
        `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `part${i} ` } })}\n\n`,
      );
    }
    events.push(
      `event: content_block_stop\ndata: ${JSON.stringify({ type: 'content_block_stop', index: 0 })}\n\n`,
      `event: message_delta\ndata: ${JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: chunks } })}\n\n`,
      `event: message_stop\ndata: ${JSON.stringify({ type: 'message_stop' })}\n\n`,
    );
    return events;
  }
  const events: string[] = [];
  for (let i = 0; i < chunks; i++) {
    events.push(
      `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1, model: 'kimi-for-coding', choices: [{ index: 0, delta: { content: `part${i} ` }, finish_reason: null }] })}\n\n`,
    );
  }
  events.push(
    `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1, model: 'kimi-for-coding', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
  );
  events.push('data: [DONE]\n\n');
  return events;
}

/** Start the fake upstream on 127.0.0.1 and a free port. */
export async function startFakeUpstream(
  options: {
    basePath?: string;
    keys?: Record<string, FakeKeyBehaviour>;
    default?: FakeKeyBehaviour;
  } = {},
): Promise<FakeUpstream> {
  const basePath = (options.basePath ?? '/coding/v1').replace(/\/+$/, '');
  const behaviours = new Map<string, FakeKeyBehaviour>(Object.entries(options.keys ?? {}));
  let fallback: FakeKeyBehaviour = options.default ?? {};
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;
  const drainWaiters: (() => void)[] = [];

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        inFlight--;
        if (inFlight === 0) for (const wake of drainWaiters.splice(0)) wake();
      }
    };
    res.on('close', finish);
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(parts).toString('utf8')).catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const key = keyOf(req);
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      headers: req.headers,
      body,
      key,
    });
    if (!url.pathname.startsWith(basePath)) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const behaviour = (key !== null ? behaviours.get(key) : undefined) ?? fallback;
    const isUsages = url.pathname === `${basePath}/usages`;
    const reply: FakeReply = (isUsages ? behaviour.usages : behaviour.chat) ?? {};
    if (reply.delayMs) await sleep(reply.delayMs);
    if (res.destroyed) return;
    if (reply.fault === 'reset-before-headers') {
      res.socket?.destroy();
      return;
    }
    if (reply.fault === 'hang') return;
    const status = reply.status ?? 200;
    let wantsStream = reply.stream ?? false;
    if (!isUsages && reply.stream === undefined && status < 300) {
      try {
        wantsStream = (JSON.parse(body) as { stream?: unknown }).stream === true;
      } catch {
        wantsStream = false;
      }
    }
    if (wantsStream || reply.fault === 'garbage-sse' || reply.fault === 'reset-mid-stream') {
      res.writeHead(status, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        ...reply.headers,
      });
      const events =
        reply.fault === 'garbage-sse'
          ? ['\u0000\u0001 not sse at all\n', '{{{{\n\n']
          : sseEvents(url.pathname, reply.chunks ?? 3);
      for (let i = 0; i < events.length; i++) {
        if (res.destroyed) return;
        res.write(events[i]);
        if (reply.fault === 'reset-mid-stream' && i === 1) {
          res.socket?.destroy();
          return;
        }
        if (reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
      }
      res.end();
      return;
    }
    const payload = reply.body ?? (isUsages ? usagePayload() : defaultChatBody(url.pathname, key));
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    res.writeHead(status, { 'content-type': 'application/json', ...reply.headers });
    res.end(text);
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    port,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    get inFlight() {
      return inFlight;
    },
    drained: () =>
      inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => drainWaiters.push(r)),
    setKey: (apiKey, behaviour) => {
      behaviours.set(apiKey, behaviour);
    },
    setDefault: (behaviour) => {
      fallback = behaviour;
    },
    countsByKey: () => {
      const counts: Record<string, number> = {};
      for (const r of requests) {
        const k = r.key ?? '(none)';
        counts[k] = (counts[k] ?? 0) + 1;
      }
      return counts;
    },
    openSockets: () => sockets.size,
    reset: () => {
      requests.length = 0;
      maxInFlight = inFlight;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
