// Header rewriting: hop-by-hop and credentials out, the key in the client's form, response headers relayed.
import { describe, expect, it } from 'vitest';
import {
  bearerToken,
  clientResponseHeaders,
  readClientHeaders,
  upstreamHeaders,
} from './headers.js';

describe('readClientHeaders / upstreamHeaders', () => {
  const raw = [
    'Host',
    'localhost:1',
    'User-Agent',
    'ua',
    'Authorization',
    'Bearer client',
    'X-Msh-Platform',
    'kimi_cli',
    'Connection',
    'keep-alive, X-Secret-Hop',
    'X-Secret-Hop',
    '1',
    'Keep-Alive',
    'timeout=5',
    'Transfer-Encoding',
    'chunked',
    'Proxy-Authorization',
    'x',
    'x-kmi-proxy-token',
    'tok',
    'Content-Length',
    '12',
    'anthropic-beta',
    'tools',
    'Accept-Encoding',
    'gzip',
  ];

  it('keeps end-to-end headers in their original case and drops the rest', () => {
    const h = readClientHeaders(raw);
    expect(h.forward).toEqual([
      'User-Agent',
      'ua',
      'X-Msh-Platform',
      'kimi_cli',
      'anthropic-beta',
      'tools',
      'Accept-Encoding',
      'gzip',
    ]);
    expect(h).toMatchObject({
      proxyToken: 'tok',
      authorization: 'Bearer client',
      apiKey: undefined,
      contentLength: 12,
      chunked: true,
      usesApiKeyHeader: false,
    });
    expect(upstreamHeaders(h, 'sk-key')).toEqual([...h.forward, 'authorization', 'Bearer sk-key']);
  });

  it('answers x-api-key with x-api-key', () => {
    const h = readClientHeaders(['x-api-key', 'client', 'authorization', 'Bearer tok']);
    expect(upstreamHeaders(h, 'sk-key')).toEqual(['x-api-key', 'sk-key']);
  });

  it('marks an unreadable Content-Length', () => {
    expect(readClientHeaders(['content-length', '1e3']).contentLength).toBeNaN();
    expect(readClientHeaders([]).contentLength).toBeUndefined();
  });

  it('reads bearer tokens', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('clientResponseHeaders', () => {
  it('relays everything but hop-by-hop headers', () => {
    expect(
      clientResponseHeaders({
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': '10',
        'set-cookie': ['a=1', 'b=2'],
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'x-kmi-key-label': 'not-ours',
      }),
    ).toEqual([
      'content-type',
      'application/json',
      'content-encoding',
      'gzip',
      'content-length',
      '10',
      'set-cookie',
      'a=1',
      'set-cookie',
      'b=2',
    ]);
  });
});
