// The demo's burst: ~20 real HTTP requests (OpenAI chat, streaming, Anthropic messages, models) through the proxy, with faults switched on midway.
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import type { SimulatedFault } from '../proxy/simulate.js';
import type { DemoLabel } from './workspace.js';

export type BurstKind = 'chat' | 'chat-stream' | 'messages' | 'messages-stream' | 'models';

export interface BurstPhase {
  /** Faults the simulated upstream starts answering with when this phase begins. */
  readonly faults: Partial<Record<DemoLabel, SimulatedFault>>;
  readonly steps: readonly BurstKind[];
}

/**
 * All keys healthy first (round-robin spreads the load), then bravo answers 429, then charlie
 * answers 402 as well: each fault is hit by rotation, so the proxy fails over twice.
 */
export const DEMO_BURST: readonly BurstPhase[] = [
  {
    faults: {},
    steps: ['chat', 'chat-stream', 'messages', 'models', 'chat', 'messages-stream'],
  },
  {
    faults: { bravo: '429' },
    steps: ['chat', 'chat-stream', 'messages', 'models', 'chat', 'chat-stream'],
  },
  {
    faults: { charlie: '402' },
    steps: [
      'chat',
      'messages',
      'chat-stream',
      'models',
      'chat',
      'messages-stream',
      'chat',
      'chat-stream',
    ],
  },
];

export interface BurstResult {
  /** 1-based position in the burst. */
  readonly n: number;
  readonly kind: BurstKind;
  readonly method: 'GET' | 'POST';
  /** Path below the proxy base. */
  readonly path: string;
  readonly stream: boolean;
  /** HTTP status, or 0 when the request failed without an answer. */
  readonly status: number;
  /** The answer had the expected shape (JSON fields, or a complete SSE stream). */
  readonly ok: boolean;
  /** `x-kmi-key-label` of the answer. */
  readonly label: string | null;
  /** `x-kmi-request-id` of the answer: the trace's request_id. */
  readonly requestId: string | null;
  readonly ms: number;
  /** Why the answer was not ok. */
  readonly problem: string | null;
}

const PROMPTS = [
  'Explain key rotation in one sentence',
  'Write a haiku about failover',
  'Summarise what a rotating proxy does',
  'Name three uses of a retry budget',
];

interface Shape {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly stream: boolean;
  readonly headers: Record<string, string>;
  readonly body: string | null;
  /** Checks the answer's text; returns a problem or null. */
  readonly check: (text: string) => string | null;
}

function json(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function shapeOf(kind: BurstKind, n: number): Shape {
  const prompt = PROMPTS[n % PROMPTS.length] as string;
  // The proxy replaces these placeholders with the selected key, in the same form.
  const openai = { authorization: 'Bearer kmi-demo', 'content-type': 'application/json' };
  const anthropic = {
    'x-api-key': 'kmi-demo',
    'anthropic-version': '2023-06-01',
    'content-type': 'application/json',
  };
  switch (kind) {
    case 'models':
      return {
        method: 'GET',
        path: '/models',
        stream: false,
        headers: { authorization: 'Bearer kmi-demo' },
        body: null,
        check: (t) => (Array.isArray(json(t)?.data) ? null : 'no model list'),
      };
    case 'chat':
    case 'chat-stream': {
      const stream = kind === 'chat-stream';
      return {
        method: 'POST',
        path: '/chat/completions',
        stream,
        headers: openai,
        body: JSON.stringify({
          model: 'kimi-for-coding',
          stream,
          messages: [{ role: 'user', content: prompt }],
        }),
        check: stream
          ? (t) => (t.includes('data: [DONE]') ? null : 'stream ended early')
          : (t) => (Array.isArray(json(t)?.choices) ? null : 'no choices in the answer'),
      };
    }
    case 'messages':
    case 'messages-stream': {
      const stream = kind === 'messages-stream';
      return {
        method: 'POST',
        path: '/messages',
        stream,
        headers: anthropic,
        body: JSON.stringify({
          model: 'kimi-for-coding',
          max_tokens: 64,
          stream,
          messages: [{ role: 'user', content: prompt }],
        }),
        check: stream
          ? (t) => (t.includes('event: message_stop') ? null : 'stream ended early')
          : (t) => (json(t)?.type === 'message' ? null : 'not an Anthropic message'),
      };
    }
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string) {
  const v = headers[name];
  return typeof v === 'string' ? v : null;
}

export interface SendBurstOptions {
  /** The proxy's base URL (no trailing slash). */
  readonly url: string;
  readonly dispatcher: Dispatcher;
  /** The simulator's fault table; each phase's faults are applied to it as the phase starts. */
  readonly faults: Record<string, SimulatedFault>;
  readonly phases?: readonly BurstPhase[];
  /** Called after each request. */
  readonly onResult?: (result: BurstResult) => void;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
}

/** Send the burst, one request at a time (so the rotation is easy to follow), and check every answer. */
export async function sendBurst(options: SendBurstOptions): Promise<BurstResult[]> {
  const results: BurstResult[] = [];
  const timeoutMs = options.timeoutMs ?? 10_000;
  let n = 0;
  for (const phase of options.phases ?? DEMO_BURST) {
    Object.assign(options.faults, phase.faults);
    for (const kind of phase.steps) {
      n++;
      const shape = shapeOf(kind, n);
      const t0 = performance.now();
      let result: BurstResult;
      try {
        const res = await request(`${options.url}${shape.path}`, {
          method: shape.method,
          headers: shape.headers,
          body: shape.body,
          dispatcher: options.dispatcher,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const text = await res.body.text();
        const problem =
          res.statusCode === 200
            ? shape.check(text)
            : `HTTP ${res.statusCode}: ${text.slice(0, 120)}`;
        result = {
          n,
          kind,
          method: shape.method,
          path: shape.path,
          stream: shape.stream,
          status: res.statusCode,
          ok: problem === null,
          label: header(res.headers, 'x-kmi-key-label'),
          requestId: header(res.headers, 'x-kmi-request-id'),
          ms: Math.round(performance.now() - t0),
          problem,
        };
      } catch (err) {
        result = {
          n,
          kind,
          method: shape.method,
          path: shape.path,
          stream: shape.stream,
          status: 0,
          ok: false,
          label: null,
          requestId: null,
          ms: Math.round(performance.now() - t0),
          problem: err instanceof Error ? err.message : String(err),
        };
      }
      results.push(result);
      options.onResult?.(result);
    }
  }
  return results;
}
