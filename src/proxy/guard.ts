// The proxy's gatekeeping: which binds are allowed (loopback, or remote with token and TLS) and the constant-time token check.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { isLoopbackHost } from '../config/upstream.js';
import { KmiError } from '../errors.js';
import { bearerToken, type ClientHeaders } from './headers.js';

/**
 * Refuse an unsafe bind. Loopback is always fine; anything else needs KMI_PROXY_ALLOW_REMOTE=1, a
 * KMI_PROXY_TOKEN and, unless KMI_PROXY_REQUIRE_TLS=0, KMI_PROXY_TLS_TERMINATED=1. The error names the
 * variable to set.
 */
export function checkBindAllowed(config: Config): void {
  const { host, port } = config.proxyListen;
  if (isLoopbackHost(host)) return;
  if (!config.proxyAllowRemote) {
    throw new KmiError('KMI_E_CONFIG', 'proxy.bind.remoteNotAllowed', { host, port });
  }
  if (config.proxyToken === '')
    throw new KmiError('KMI_E_CONFIG', 'proxy.bind.tokenRequired', { host });
  if (config.proxyRequireTls && !config.proxyTlsTerminated) {
    throw new KmiError('KMI_E_CONFIG', 'proxy.bind.tlsRequired', { host });
  }
}

export type TokenCheck = (headers: ClientHeaders) => boolean;

/**
 * A checker for the proxy token, or null when no token is configured. The token is looked for in
 * x-kmi-proxy-token first; only when that header is absent in `Authorization: Bearer`, then in
 * x-api-key (what the Anthropic SDK sends for `apiKey`). Comparison is of SHA-256 digests with
 * timingSafeEqual, so neither content nor length leaks through timing.
 */
export function createTokenCheck(token: string): TokenCheck | null {
  if (token === '') return null;
  const expected = digest(token);
  return (headers) => {
    const presented = headers.proxyToken ?? bearerToken(headers.authorization) ?? headers.apiKey;
    if (presented === undefined) return false;
    return timingSafeEqual(digest(presented), expected);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
