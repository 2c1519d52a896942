// The dry-run upstream: answers like Kimi (OpenAI and Anthropic JSON, SSE, /models, /usages) without any network, with injectable faults for the demo.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { isAnthropicPath } from './route.js';
import { replyBodyFrom } from './reply-body.js';
import type { UpstreamReply } from './upstream.js';

/** What a simulated key answers: normally, or one of the failures the proxy must handle. */
export type SimulatedFault = 'ok' | '429' | '402' | '401' | '5xx';

export interface SimulateOptions {
  /**
   * Per key label. Read on every request, so a caller (the demo) may change entries while the
   * proxy runs.
   */
  readonly faults?: Record<string, SimulatedFault>;
  /** Pause between SSE events (default 0: the next event loop turn). */
  readonly chunkDelayMs?: number;
}

export interface SimulatedRequest {
  readonly method: string;
  /** Path below the base, e.g. `/chat/completions`. */
  readonly rest: string;
  readonly body: Buffer | null;
  readonly label: string;
}

const MODEL = 'kimi-for-coding';
const JSON_HEADERS = { 'content-type': 'application/json' } as const;
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
} as const;

/** Answer one request as the simulated upstream would. */
export function simulateUpstream(
  req: SimulatedRequest,
  options: SimulateOptions = {},
  nowMs = Date.now(),
): UpstreamReply {
  const anthropic = isAnthropicPath(req.rest);
  const fault = options.faults?.[req.label] ?? 'ok';
  if (fault !== 'ok') return faultReply(fault, anthropic);
  const path = req.rest.replace(/\/+$/, '');
  const method = req.method.toUpperCase();

  if (path.endsWith('/models') && method === 'GET') {
    return json(200, {
      object: 'list',
      data: [
        {
          id: MODEL,
          object: 'model',
          created: 1_700_000_000,
          owned_by: 'moonshot',
          display_name: 'Kimi for Coding (simulated)',
        },
      ],
    });
  }
  if (path.endsWith('/usages') && method === 'GET') return json(200, usagePayload(nowMs));
  if (path.endsWith('/messages/count_tokens') && method === 'POST') {
    const parsed = parseBody(req.body);
    if (!parsed.ok) return badJson(true);
    return json(200, { input_tokens: estimateTokens(req.body) });
  }
  if ((path.endsWith('/chat/completions') || path.endsWith('/messages')) && method === 'POST') {
    const parsed = parseBody(req.body);
    if (!parsed.ok) return badJson(anthropic);
    const model = typeof parsed.value.model === 'string' ? parsed.value.model : MODEL;
    const stream = parsed.value.stream === true;
    const text = `Simulated reply from kmi (dry run), served with key ${req.label}.`;
    const inputTokens = estimateTokens(req.body);
    if (anthropic) {
      return stream
        ? sse(anthropicEvents(model, text, inputTokens), options.chunkDelayMs)
        : json(200, anthropicMessage(model, text, inputTokens));
    }
    return stream
      ? sse(openAiChunks(model, text, nowMs), options.chunkDelayMs)
      : json(200, openAiCompletion(model, text, inputTokens, nowMs));
  }
  return anthropic
    ? json(404, {
        type: 'error',
        error: {
          type: 'not_found_error',
          message: `Unknown endpoint ${path} (simulated upstream)`,
        },
      })
    : json(404, {
        error: {
          message: `Unknown endpoint ${path} (simulated upstream)`,
          type: 'not_found_error',
          code: 'not_found',
        },
      });
}

function faultReply(fault: Exclude<SimulatedFault, 'ok'>, anthropic: boolean): UpstreamReply {
  const err = (
    status: number,
    type: string,
    message: string,
    headers: Record<string, string> = {},
  ) =>
    json(
      status,
      anthropic
        ? { type: 'error', error: { type, message } }
        : { error: { message, type, code: type } },
      headers,
    );
  switch (fault) {
    case '429':
      return err(429, 'rate_limit_error', 'Rate limit exceeded, please retry later (simulated).', {
        'retry-after': '30',
      });
    case '402':
      return err(402, 'payment_required', 'Payment required: membership expired (simulated).');
    case '401':
      return err(401, 'authentication_error', 'Invalid Authentication (simulated).');
    case '5xx':
      return err(503, 'overloaded_error', 'The engine is currently overloaded (simulated).');
  }
}

function json(status: number, body: unknown, extra: Record<string, string> = {}): UpstreamReply {
  const bytes = Buffer.from(JSON.stringify(body));
  const headers: IncomingHttpHeaders = {
    ...JSON_HEADERS,
    'content-length': String(bytes.length),
    ...extra,
  };
  return { status, headers, body: replyBodyFrom(Readable.from([bytes], { objectMode: false })) };
}

function sse(events: readonly string[], delayMs = 0): UpstreamReply {
  async function* gen(): AsyncGenerator<Buffer> {
    for (const e of events) {
      await new Promise((r) => (delayMs > 0 ? setTimeout(r, delayMs) : setImmediate(r)));
      yield Buffer.from(e);
    }
  }
  return {
    status: 200,
    headers: { ...SSE_HEADERS },
    body: replyBodyFrom(Readable.from(gen(), { objectMode: false })),
  };
}

function badJson(anthropic: boolean): UpstreamReply {
  const message = 'Request body is not valid JSON (simulated upstream).';
  return json(
    400,
    anthropic
      ? { type: 'error', error: { type: 'invalid_request_error', message } }
      : { error: { message, type: 'invalid_request_error', code: 'invalid_json' } },
  );
}

type Parsed = { ok: true; value: Record<string, unknown> } | { ok: false };

function parseBody(body: Buffer | null): Parsed {
  if (body === null || body.length === 0) return { ok: false };
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? { ok: true, value: value as Record<string, unknown> }
      : { ok: false };
  } catch {
    return { ok: false };
  }
}

function estimateTokens(body: Buffer | null): number {
  return Math.max(1, Math.ceil((body?.length ?? 0) / 4));
}

function words(text: string): string[] {
  return text.split(/(?<= )/);
}

function openAiCompletion(
  model: string,
  text: string,
  inputTokens: number,
  nowMs: number,
): unknown {
  const out = words(text).length;
  return {
    id: `chatcmpl-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    object: 'chat.completion',
    created: Math.floor(nowMs / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: inputTokens, completion_tokens: out, total_tokens: inputTokens + out },
  };
}

function openAiChunks(model: string, text: string, nowMs: number): string[] {
  const id = `chatcmpl-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
  const created = Math.floor(nowMs / 1000);
  const chunk = (delta: unknown, finish: string | null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  return [
    chunk({ role: 'assistant', content: '' }, null),
    ...words(text).map((w) => chunk({ content: w }, null)),
    chunk({}, 'stop'),
    'data: [DONE]\n\n',
  ];
}

function anthropicMessage(model: string, text: string, inputTokens: number): unknown {
  return {
    id: `msg_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: inputTokens, output_tokens: words(text).length },
  };
}

function anthropicEvents(model: string, text: string, inputTokens: number): string[] {
  const id = `msg_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
  const ev = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  const parts = words(text);
  return [
    ev('message_start', {
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: inputTokens, output_tokens: 0 },
      },
    }),
    ev('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    ...parts.map((w) =>
      ev('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: w },
      }),
    ),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: parts.length },
    }),
    ev('message_stop', { type: 'message_stop' }),
  ];
}

/** A synthetic `/usages` answer in the Kimi shape (numbers as strings), marked as simulated. */
function usagePayload(nowMs: number): unknown {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    dry_run: true,
    usage: { limit: '100', used: '20', remaining: '80', resetTime: iso(nowMs + 72 * 3_600_000) },
    limits: [
      {
        window: { duration: 300, timeUnit: 'TIME_UNIT_MINUTE' },
        detail: {
          limit: '100',
          used: '10',
          remaining: '90',
          resetTime: iso(nowMs + 2 * 3_600_000),
        },
      },
    ],
  };
}
