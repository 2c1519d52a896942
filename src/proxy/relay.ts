// relay: send a chosen upstream answer to the client — original status and headers, then the body streamed with backpressure.
import type { ServerResponse } from 'node:http';
import type { Cancellation } from './cancel.js';
import { clientResponseHeaders } from './headers.js';
import type { RelayEnd } from './reply-body.js';
import type { UpstreamReply } from './upstream.js';

export type { RelayEnd } from './reply-body.js';

/** True when the answer is a server-sent event stream. */
export function isEventStream(headers: UpstreamReply['headers']): boolean {
  const ct = headers['content-type'];
  return typeof ct === 'string' && ct.toLowerCase().startsWith('text/event-stream');
}

/**
 * Write the upstream's status and headers plus kmi's `x-kmi-key-label` and `x-kmi-request-id`
 * (synchronously: the head is out when this returns), then relay the body; the promise says how
 * the relay ended.
 */
export function relay(
  res: ServerResponse,
  reply: UpstreamReply,
  keyLabel: string,
  requestId: string,
  cancel: Cancellation,
): Promise<RelayEnd> {
  const headers = clientResponseHeaders(reply.headers);
  headers.push('x-kmi-key-label', keyLabel, 'x-kmi-request-id', requestId);
  res.writeHead(reply.status, headers);
  if (isEventStream(reply.headers)) res.flushHeaders();
  return reply.body.pipeTo(res, cancel);
}
