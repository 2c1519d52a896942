// The proxy's TraceSink: finalises records off the request path, keeps a ring of recent ones, appends trace.jsonl.
import type { Config } from '../config/schema.js';
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { createRotatingWriter, type RotatingWriterStats } from '../files/rotating-writer.js';
import { formatZoned } from '../zoned-time.js';
import { encodeTraceLine } from './line.js';
import { promptHint } from './prompt-hint.js';
import { RecordRing } from './ring.js';
import {
  TRACE_SCHEMA_VERSION,
  type TraceEntry,
  type TraceRecord,
  type TraceSink,
} from './record.js';

export const TRACE_FILE_NAME = 'trace.jsonl';

export interface TraceWriterOptions {
  /** `<stateDir>/trace` */
  readonly dir: string;
  readonly maxBytes: number;
  readonly backups: number;
  readonly enforcePerms: boolean;
  readonly timezone: string;
  /** KMI_TRACE_PROMPTS: false records prompt_hint/prompt_head as null. */
  readonly tracePrompts: boolean;
  /** Fallback time for entries without a usable `atMs`. */
  readonly clock?: Clock;
  /** Records kept in memory for `recent()` (default 500). */
  readonly ringSize?: number;
  /** Entries waiting to be finalised beyond this are dropped, oldest first (default 10 000). */
  readonly maxPending?: number;
  /** Passed to the file writer (default 200 ms). */
  readonly flushIntervalMs?: number;
}

export interface TraceWriterStats extends RotatingWriterStats {
  /** Records finalised (in memory, handed to the file writer). */
  readonly recorded: number;
  /** Entries dropped before finalising because too many were pending. */
  readonly droppedPending: number;
}

export interface TraceWriter extends TraceSink {
  /** Full path of trace.jsonl. */
  readonly path: string;
  stats(): TraceWriterStats;
}

/** Build the on-disk record from what the proxy handed over (field order as in the Python tool). */
export function finaliseTraceRecord(
  entry: TraceEntry,
  options: {
    readonly timezone: string;
    readonly tracePrompts: boolean;
    /** Time for an entry without a usable `atMs` (default Date.now()). */
    readonly now?: () => number;
    /** Formats `ts` (default formatZoned in `timezone`). */
    readonly formatTs?: (ms: number) => string;
  },
): TraceRecord {
  const r = entry.record;
  const at = Number.isFinite(entry.atMs) ? entry.atMs : (options.now ?? Date.now)();
  const prompt = options.tracePrompts ? promptHint(entry.promptBody) : { hint: null, head: null };
  return {
    ts: options.formatTs ? options.formatTs(at) : formatZoned(at, options.timezone),
    request_id: r.request_id,
    method: r.method,
    prompt_hint: prompt.hint,
    prompt_head: prompt.head,
    key_label: r.key_label,
    key_hash: r.key_hash,
    endpoint: r.endpoint,
    status: r.status,
    latency_ms: r.latency_ms,
    error_code: r.error_code,
    rotation_index: r.rotation_index,
    schema_version: TRACE_SCHEMA_VERSION,
    ttfb_ms: r.ttfb_ms,
    attempts: r.attempts,
    failover_from: r.failover_from,
    stream: r.stream,
    dry_run: r.dry_run,
  };
}

export function createTraceWriter(options: TraceWriterOptions): TraceWriter {
  const clock = options.clock ?? systemClock;
  const ringSize = Math.max(1, options.ringSize ?? 500);
  const maxPending = Math.max(1, options.maxPending ?? 10_000);
  const path = join(options.dir, TRACE_FILE_NAME);
  const file = createRotatingWriter({
    path,
    maxBytes: options.maxBytes,
    backups: options.backups,
    enforcePerms: options.enforcePerms,
    ...(options.flushIntervalMs !== undefined ? { flushIntervalMs: options.flushIntervalMs } : {}),
  });

  const ring = new RecordRing(ringSize);
  const listeners = new Set<(record: TraceRecord) => void>();
  let pending: TraceEntry[] = [];
  let scheduled: NodeJS.Immediate | null = null;
  let recorded = 0;
  let droppedPending = 0;
  let closed = false;

  // formatZoned with an IANA zone costs microseconds; ts has whole seconds, so reuse it within one.
  let tsSecond = NaN;
  let tsText = '';
  const formatTs = (ms: number): string => {
    const second = Math.floor(ms / 1000);
    if (second !== tsSecond) {
      tsSecond = second;
      tsText = formatZoned(ms, options.timezone);
    }
    return tsText;
  };

  const finaliseOptions = {
    timezone: options.timezone,
    tracePrompts: options.tracePrompts,
    now: () => clock.now(),
    formatTs,
  };

  function processPending(): void {
    scheduled = null;
    const batch = pending;
    pending = [];
    for (const entry of batch) {
      let record: TraceRecord;
      try {
        record = finaliseTraceRecord(entry, finaliseOptions);
        // The encoded bytes are reused by the next line: queued (copied) at once.
        const line = encodeTraceLine(record);
        file.writeBytes(line.bytes, line.length);
      } catch {
        droppedPending++;
        continue;
      }
      recorded++;
      ring.push(record);
      for (const listener of listeners) {
        try {
          listener(record);
        } catch {
          // A broken subscriber (a closed dashboard socket) must not stop the trace.
        }
      }
    }
  }

  return {
    path,
    record(entry: TraceEntry): void {
      if (closed) {
        droppedPending++;
        return;
      }
      pending.push(entry);
      if (pending.length > maxPending) {
        pending.shift();
        droppedPending++;
      }
      scheduled ??= setImmediate(processPending);
    },
    recent(limit?: number): readonly TraceRecord[] {
      return ring.recent(limit);
    },
    subscribe(listener: (record: TraceRecord) => void): () => void {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async flush(): Promise<void> {
      if (scheduled !== null) {
        clearImmediate(scheduled);
        processPending();
      }
      await file.flush();
    },
    async close(): Promise<void> {
      if (scheduled !== null) {
        clearImmediate(scheduled);
        processPending();
      }
      closed = true;
      listeners.clear();
      await file.close();
    },
    stats: () => ({ ...file.stats(), recorded, droppedPending }),
  };
}

/** The trace writer for a configuration: `<state dir>/trace/trace.jsonl` with its rotation and prompt settings. */
export function createTraceWriterFor(
  config: Pick<
    Config,
    'stateDir' | 'traceMaxBytes' | 'traceBackups' | 'enforceFilePerms' | 'timezone' | 'tracePrompts'
  >,
): TraceWriter {
  return createTraceWriter({
    dir: join(config.stateDir, 'trace'),
    maxBytes: config.traceMaxBytes,
    backups: config.traceBackups,
    enforcePerms: config.enforceFilePerms,
    timezone: config.timezone,
    tracePrompts: config.tracePrompts,
  });
}
