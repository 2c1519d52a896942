// probeProxy: is a kmi proxy answering on the configured address? A short loopback GET of {base}/_kmi/health.
import { request } from 'node:http';
import type { Config } from '../config/schema.js';

export function proxyBaseUrl(config: Pick<Config, 'proxyListen' | 'proxyBasePath'>): string {
  const { host, port } = config.proxyListen;
  const h = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return `http://${h}:${port}${config.proxyBasePath === '/' ? '' : config.proxyBasePath}`;
}

export interface ProbeResult {
  readonly running: boolean;
  readonly body: Record<string, unknown> | null;
}

/** GET {base}/_kmi/health (or another admin path) with the proxy token; never throws. */
export function probeProxy(
  config: Pick<Config, 'proxyListen' | 'proxyBasePath' | 'proxyToken'>,
  path = '_kmi/health',
  timeoutMs = 800,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const url = `${proxyBaseUrl(config)}/${path}`;
    const headers: Record<string, string> = {};
    if (config.proxyToken !== '') headers['x-kmi-proxy-token'] = config.proxyToken;
    const req = request(url, { method: 'GET', headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: Record<string, unknown> | null = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          body = null;
        }
        resolve({ running: res.statusCode === 200 && body !== null, body });
      });
      res.on('error', () => resolve({ running: false, body: null }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ running: false, body: null }));
    req.end();
  });
}
