// Small HTTP pieces for the dashboard endpoints: JSON replies, request-origin checks, JSON bodies.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isLoopbackHost } from '../../config/upstream.js';
import { readRequestBody } from '../body.js';
import type { ProxyContext } from '../context.js';

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

/** An error in the upstream's (OpenAI) shape, like the proxy's own errors, with a stable `code`. */
export function sendJsonError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(extra)) res.setHeader(name, value);
  const type =
    status === 401
      ? 'authentication_error'
      : status === 403
        ? 'permission_error'
        : status === 404
          ? 'not_found_error'
          : 'invalid_request_error';
  sendJson(res, status, { error: { message, type, code } });
}

function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  const colon = hostHeader.lastIndexOf(':');
  return colon < 0 ? hostHeader : hostHeader.slice(0, colon);
}

/**
 * Without a token the proxy trusts whoever reaches its loopback port — but a web page can reach it
 * too, under its own host name, by DNS rebinding. So the dashboard's data and actions answer only
 * requests addressed to a loopback name or the listen host. With a token that page cannot get in anyway.
 */
export function hostAllowed(ctx: ProxyContext, req: IncomingMessage): boolean {
  if (ctx.config.proxyToken !== '') return true;
  const host = req.headers.host;
  if (host === undefined || host === '') return false;
  const name = hostName(host).toLowerCase();
  const listen = ctx.config.proxyListen.host.toLowerCase();
  return isLoopbackHost(name) || name === listen || name === `[${listen}]`;
}

/**
 * Actions change state, so they must come from the dashboard page itself: a JSON content type (a
 * cross-site form cannot send one without a CORS preflight, which the proxy never grants) and,
 * without a token, the same origin when the browser names one. With a token the page must send it
 * as a header, which no other site can; the origin is not compared then, so a TLS-terminating
 * reverse proxy that rewrites Host does not break the buttons.
 */
export function sameOriginAction(req: IncomingMessage, tokenSet: boolean): string | null {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    return 'Send the action as JSON (content-type: application/json).';
  if (tokenSet) return null;
  const elsewhere = 'Actions are accepted only from the dashboard page itself.';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return elsewhere;
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return elsewhere; // includes the opaque origin "null"
  }
  return originHost.toLowerCase() === (req.headers.host ?? '').toLowerCase() ? null : elsewhere;
}

const MAX_ACTION_BODY = 16 * 1024;

/** The request's JSON object body, or an error message. */
export async function readJsonObject(
  req: IncomingMessage,
): Promise<{ ok: true; value: Record<string, unknown> } | { ok: false; message: string }> {
  const body = await readRequestBody(req, MAX_ACTION_BODY);
  if (body === 'too_large') return { ok: false, message: 'The action body is too large.' };
  if (body === 'aborted') return { ok: false, message: 'The request was aborted.' };
  if (body.length === 0) return { ok: true, value: {} };
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { ok: false, message: 'The action body must be a JSON object.' };
    }
    return { ok: true, value: value as Record<string, unknown> };
  } catch {
    return { ok: false, message: 'The action body is not valid JSON.' };
  }
}
