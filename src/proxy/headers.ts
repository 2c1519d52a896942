// Header rewriting: the client's headers minus hop-by-hop, host, proxy token and credentials, plus the selected key.
import type { IncomingHttpHeaders } from 'node:http';

/** What the proxy needs to know about the client's headers, read in one pass over rawHeaders. */
export interface ClientHeaders {
  /** Flat [name, value, name, value…] of headers to forward unchanged. */
  readonly forward: string[];
  /** The client sent x-api-key, so the upstream gets the key the same way. */
  readonly usesApiKeyHeader: boolean;
  readonly proxyToken: string | undefined;
  readonly authorization: string | undefined;
  readonly apiKey: string | undefined;
  /** Content-Length as sent: undefined when absent, NaN when unreadable. */
  readonly contentLength: number | undefined;
  readonly chunked: boolean;
}

// Never forwarded: hop-by-hop (RFC 9110 §7.6.1), host (the upstream's own), the framing headers undici
// sets itself for the buffered body, and every credential or proxy token of the client.
const DROP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'content-length',
  'expect',
  'http2-settings',
]);

/** Split the client's raw headers into what is forwarded and what the proxy itself consumes. */
export function readClientHeaders(raw: readonly string[]): ClientHeaders {
  const forward: string[] = [];
  let proxyToken: string | undefined;
  let authorization: string | undefined;
  let apiKey: string | undefined;
  let contentLength: number | undefined;
  let chunked = false;
  let connectionTokens: string[] | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'authorization') authorization ??= value;
    else if (lower === 'x-api-key') apiKey ??= value;
    else if (lower === 'x-kmi-proxy-token') proxyToken ??= value;
    else if (lower.startsWith('proxy-')) continue;
    else if (DROP.has(lower)) {
      if (lower === 'content-length') {
        contentLength = /^\s*\d{1,15}\s*$/.test(value) ? Number(value) : Number.NaN;
      } else if (lower === 'transfer-encoding') chunked = true;
      else if (lower === 'connection') {
        connectionTokens ??= [];
        for (const t of value.split(',')) {
          const token = t.trim().toLowerCase();
          if (token !== '' && token !== 'close' && token !== 'keep-alive')
            connectionTokens.push(token);
        }
      }
    } else {
      forward.push(name, value);
    }
  }
  if (connectionTokens !== null && connectionTokens.length > 0) {
    // Headers the client named in Connection are hop-by-hop too.
    const named = new Set(connectionTokens);
    for (let i = forward.length - 2; i >= 0; i -= 2) {
      if (named.has((forward[i] as string).toLowerCase())) forward.splice(i, 2);
    }
  }
  return {
    forward,
    usesApiKeyHeader: apiKey !== undefined,
    proxyToken,
    authorization,
    apiKey,
    contentLength,
    chunked,
  };
}

/**
 * The headers for one upstream attempt: the forwarded ones plus the key, in the form the client
 * used. `bearer` is the precomputed `Bearer <key>` value.
 */
export function upstreamHeaders(
  client: ClientHeaders,
  key: string,
  bearer = `Bearer ${key}`,
): string[] {
  const out = client.forward.slice();
  if (client.usesApiKeyHeader) out.push('x-api-key', key);
  else out.push('authorization', bearer);
  return out;
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

// Hop-by-hop headers, and the two the proxy sets itself (an upstream's own would be duplicates).
const DROP_RESPONSE = new Set([
  'x-kmi-key-label',
  'x-kmi-request-id',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'trailer',
  'upgrade',
  'proxy-connection',
]);

/**
 * The upstream's response headers as the client gets them, as a flat `[name, value, …]` list for
 * `writeHead` (no object to build): everything (including content-encoding and content-length,
 * since the body is relayed byte-for-byte) except hop-by-hop headers.
 */
export function clientResponseHeaders(upstream: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name in upstream) {
    if (DROP_RESPONSE.has(name)) continue;
    const value = upstream[name];
    if (typeof value === 'string') out.push(name, value);
    else if (value !== undefined) for (const v of value) out.push(name, v);
  }
  return out;
}
