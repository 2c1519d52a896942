// runKimi: run the real `kimi` binary against the proxy — base URLs pointed at it, a placeholder key, signals and exit code passed through.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** The first executable `kimi` on PATH, or null. */
export async function findOnPath(
  name: string,
  pathVar: string | undefined,
): Promise<string | null> {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export interface KimiRunOptions {
  readonly binary: string;
  readonly args: readonly string[];
  readonly proxyUrl: string;
  /** KMI_PROXY_TOKEN when set, else the placeholder `proxy`; never a real key. */
  readonly apiKey: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Values that must never reach the child (the pool's real keys). */
  readonly secrets: readonly string[];
}

/** Environment for kimi: the caller's, minus anything holding a pool key, plus the proxy settings. */
export function kimiEnvironment(
  options: Omit<KimiRunOptions, 'binary' | 'args'>,
): Record<string, string> {
  const secrets = new Set(options.secrets);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.env)) {
    if (value === undefined || secrets.has(value) || name === 'KMI_API_KEY') continue;
    if ([...secrets].some((s) => s.length >= 8 && value.includes(s))) continue;
    env[name] = value;
  }
  env.KIMI_BASE_URL = options.proxyUrl;
  env.KIMI_MODEL_BASE_URL = options.proxyUrl;
  env.KIMI_API_KEY = options.apiKey;
  return env;
}

/** Run kimi with inherited stdio, forwarding SIGINT/SIGTERM/SIGHUP; resolves to its exit code. */
export function runKimi(options: KimiRunOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.binary, [...options.args], {
      stdio: 'inherit',
      env: kimiEnvironment(options),
    });
    const forward = (signal: NodeJS.Signals) => () => {
      child.kill(signal);
    };
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map(
      (s) => [s, forward(s)] as const,
    );
    for (const [s, h] of handlers) process.on(s, h);
    child.once('error', (err) => {
      for (const [s, h] of handlers) process.off(s, h);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      const signalNumber = signal
        ? ((constants as unknown as { signals?: Record<string, number> }).signals?.[signal] ?? 0)
        : 0;
      resolve(code ?? 128 + signalNumber);
    });
  });
}
