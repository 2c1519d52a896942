// `kmi proxy-logs`: show (and follow) the daemon output or the app log, optionally only lines since a time.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KmiError } from '../errors.js';
import { followFile, linesSince, parseSince, readLastLines } from '../log/tail.js';
import { t } from '../ui/i18n/index.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

/** With --since, how far back kmi reads at most. */
const SINCE_SCAN_LINES = 200_000;

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const { config, io } = ctx;
  const path = join(config.stateDir, 'logs', opts.app === true ? 'kmi.log' : 'proxy.out');
  const count = parseCount(opts.lines);
  let sinceMs: number | null = null;
  if (typeof opts.since === 'string') {
    sinceMs = parseSince(opts.since, Date.now(), config.timezone);
    if (sinceMs === null) throw new KmiError('KMI_E_USAGE', 'logs.badSince', { value: opts.since });
  }
  const follow = opts.follow !== false;

  if (!existsSync(path)) {
    io.err(t(opts.app === true ? 'logs.missingApp' : 'logs.missingDaemon', { path }));
    if (!follow) return 0;
  } else {
    let lines = await readLastLines(path, sinceMs === null ? count : SINCE_SCAN_LINES);
    if (sinceMs !== null) lines = linesSince(lines, sinceMs, config.timezone).slice(-count);
    for (const line of lines) io.out(line);
  }
  if (!follow) return 0;

  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await followFile(path, (line) => io.out(line), { signal: controller.signal });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}

function parseCount(value: unknown): number {
  if (value === undefined) return 200;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n))
    throw new KmiError('KMI_E_USAGE', 'logs.badLines', { value: String(value) });
  return n;
}
