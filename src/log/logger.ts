// The app logger: kmi.log as JSON lines (ts in KMI_TIMEZONE, level, message, fields), batched and rotated.
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { maskSecretsInText } from '../auth/mask.js';
import { systemClock, type Clock } from '../clock.js';
import { createRotatingWriter, type RotatingWriterStats } from '../files/rotating-writer.js';
import { formatZoned } from '../zoned-time.js';
import type { LogFields, Logger, LogLevel } from './types.js';

export const LOG_FILE_NAME = 'kmi.log';

export interface LoggerOptions {
  /** `<stateDir>/logs` */
  readonly dir: string;
  readonly maxBytes: number;
  readonly backups: number;
  readonly enforcePerms: boolean;
  readonly timezone: string;
  /** KMI_AUDIT_ACTOR, written on audit events. */
  readonly actor: string;
  readonly clock?: Clock;
  /** Lowest level written (default `info`); audit events are always written. */
  readonly minLevel?: Exclude<LogLevel, 'audit'>;
  /** Default `kmi.log`. */
  readonly fileName?: string;
  readonly flushIntervalMs?: number;
}

export interface FileLogger extends Logger {
  readonly path: string;
  stats(): RotatingWriterStats;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, audit: 100 };
const RESERVED = new Set(['ts', 'level', 'message', 'actor']);

/** Mask `sk-…` keys and Bearer tokens inside a log value (defensive: callers must never pass keys). */
export const maskLogText = maskSecretsInText;

/** One kmi.log line (no newline). Field names clashing with ts/level/message/actor get a `field_` prefix. */
export function formatLogLine(
  level: LogLevel,
  event: string,
  fields: LogFields | undefined,
  options: { readonly nowMs: number; readonly timezone: string; readonly actor?: string },
): string {
  const line: Record<string, unknown> = {
    ts: formatZoned(options.nowMs, options.timezone),
    level,
    message: maskLogText(event),
  };
  if (level === 'audit') line.actor = options.actor ?? 'unknown';
  if (fields) {
    for (const [name, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const key = RESERVED.has(name) ? `field_${name}` : name;
      line[key] =
        typeof value === 'string'
          ? maskLogText(value)
          : Array.isArray(value)
            ? value.map((v: unknown) => (typeof v === 'string' ? maskLogText(v) : v))
            : value;
    }
  }
  return JSON.stringify(line);
}

export function createLogger(options: LoggerOptions): FileLogger {
  const clock = options.clock ?? systemClock;
  const min = RANK[options.minLevel ?? 'info'];
  const path = join(options.dir, options.fileName ?? LOG_FILE_NAME);
  const file = createRotatingWriter({
    path,
    maxBytes: options.maxBytes,
    backups: options.backups,
    enforcePerms: options.enforcePerms,
    ...(options.flushIntervalMs !== undefined ? { flushIntervalMs: options.flushIntervalMs } : {}),
  });

  function log(level: LogLevel, event: string, fields?: LogFields): void {
    if (RANK[level] < min) return;
    try {
      file.write(
        formatLogLine(level, event, fields, {
          nowMs: clock.now(),
          timezone: options.timezone,
          actor: options.actor,
        }),
      );
    } catch {
      // Logging must never take the caller down.
    }
  }

  return {
    path,
    debug: (event, fields) => log('debug', event, fields),
    info: (event, fields) => log('info', event, fields),
    warn: (event, fields) => log('warn', event, fields),
    error: (event, fields) => log('error', event, fields),
    audit: (event, fields) => log('audit', event, fields),
    flush: () => file.flush(),
    close: () => file.close(),
    stats: () => file.stats(),
  };
}

/** The app logger for a configuration: `<state dir>/logs/kmi.log` with its rotation, zone and actor. */
export function createLoggerFor(
  config: Pick<
    Config,
    'stateDir' | 'logMaxBytes' | 'logBackups' | 'enforceFilePerms' | 'timezone' | 'auditActor'
  >,
): FileLogger {
  return createLogger({
    dir: join(config.stateDir, 'logs'),
    maxBytes: config.logMaxBytes,
    backups: config.logBackups,
    enforcePerms: config.enforceFilePerms,
    timezone: config.timezone,
    actor: config.auditActor,
  });
}
