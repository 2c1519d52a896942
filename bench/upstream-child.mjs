// Bench upstream: a minimal Kimi-like server in its own process that counts sockets and in-flight requests.
//
// POST …/chat/completions → small JSON, or SSE when the body has `stream: true`. The body may carry
// `bench: {chunks, delayMs}` to shape the stream (used for the mid-stream abort test).
// GET …/usages → a healthy usage payload. Parent talks to it over IPC: stats, reset, close.
import { createServer } from 'node:http';

const BASE = '/coding/v1';
const sockets = new Map(); // socket → busy (a request is being answered on it)
let inFlight = 0;
let requests = 0;
let completed = 0;
let clientClosed = 0;

const CHAT = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1,
  model: 'kimi-for-coding',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});

const inHours = (h) => new Date(Date.now() + h * 3_600_000).toISOString();
const usages = () =>
  JSON.stringify({
    usage: { limit: '100', used: '10', remaining: '90', resetTime: inHours(72) },
    limits: [
      {
        window: { duration: 300, timeUnit: 'TIME_UNIT_MINUTE' },
        detail: { limit: '100', used: '5', remaining: '95', resetTime: inHours(2) },
      },
    ],
  });

const chunk = (i) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'kimi-for-coding', choices: [{ index: 0, delta: { content: `part${i} ` }, finish_reason: null }] })}\n\n`;

function stream(res, chunks, delayMs) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i >= chunks) {
      res.end('data: [DONE]\n\n');
      return;
    }
    res.write(chunk(i++));
    if (delayMs > 0) setTimeout(next, delayMs);
    else setImmediate(next);
  };
  next();
}

const server = createServer((req, res) => {
  requests++;
  inFlight++;
  const socket = req.socket;
  sockets.set(socket, true);
  let done = false;
  const finish = (byClient) => {
    if (done) return;
    done = true;
    inFlight--;
    if (byClient) clientClosed++;
    else completed++;
    if (sockets.has(socket)) sockets.set(socket, false);
  };
  res.on('finish', () => finish(false));
  res.on('close', () => finish(true));
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === `${BASE}/usages`) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(usages());
      return;
    }
    if (!path.startsWith(BASE)) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"error":{"message":"not found"}}');
      return;
    }
    let body = {};
    if (parts.length > 0) {
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      } catch {
        body = {};
      }
    }
    if (body && body.stream === true) {
      const shape = body.bench ?? {};
      stream(res, Number(shape.chunks ?? 5), Number(shape.delayMs ?? 0));
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(CHAT),
    });
    res.end(CHAT);
  });
});
server.keepAliveTimeout = 30_000;
server.headersTimeout = 60_000;
server.on('connection', (s) => {
  sockets.set(s, false);
  s.on('close', () => sockets.delete(s));
});

function stats() {
  let busy = 0;
  for (const b of sockets.values()) if (b) busy++;
  return {
    openSockets: sockets.size,
    busySockets: busy,
    inFlight,
    requests,
    completed,
    clientClosed,
    rss: process.memoryUsage().rss,
  };
}

process.on('message', (msg) => {
  if (!msg || typeof msg !== 'object') return;
  if (msg.type === 'stats') process.send({ id: msg.id, type: 'stats', ...stats() });
  else if (msg.type === 'reset') {
    requests = 0;
    completed = 0;
    clientClosed = 0;
    process.send({ id: msg.id, type: 'ok' });
  } else if (msg.type === 'close') {
    for (const s of sockets.keys()) s.destroy();
    server.close(() => process.send({ id: msg.id, type: 'ok' }, () => process.disconnect()));
  }
});
process.on('disconnect', () => {
  for (const s of sockets.keys()) s.destroy();
  server.close();
});

server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', port: server.address().port, base: BASE });
});
