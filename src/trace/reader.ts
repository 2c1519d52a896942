// Reading the trace back: the last N records across trace.jsonl and its rotated files, tolerant of damage.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { linesBackward } from '../log/tail.js';
import type { TraceRecord } from './record.js';
import { TRACE_FILE_NAME } from './writer.js';

export interface TraceReadOptions {
  /** Rotated files looked at: `.1` … `.maxBackups` (default 20; reading stops at the first missing one). */
  readonly maxBackups?: number;
}

export interface TraceReadResult {
  /** Oldest first, at most `limit`. */
  readonly records: TraceRecord[];
  /** Lines that were not a JSON object (ignored). */
  readonly malformed: number;
  /** Files that were read, newest first. */
  readonly files: string[];
}

/** `<dir>/trace.jsonl` */
export function traceFilePath(dir: string): string {
  return join(dir, TRACE_FILE_NAME);
}

/** A trace line, or null when it is not a JSON object with the fields a record needs to be useful. */
export function parseTraceLine(line: string): TraceRecord | null {
  if (!line.startsWith('{')) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const r = value as Partial<TraceRecord>;
  if (typeof r.ts !== 'string') return null;
  return value as TraceRecord;
}

/**
 * The last `limit` records of the trace at `path` (the live `trace.jsonl`), continuing into
 * `path.1`, `path.2`, … (older) when the live file has fewer. Files are read from their end, so a
 * large trace costs only what is returned.
 */
export async function readTraceTail(
  path: string,
  limit: number,
  options: TraceReadOptions = {},
): Promise<TraceReadResult> {
  const maxBackups = options.maxBackups ?? 20;
  const newestFirst: TraceRecord[] = [];
  const files: string[] = [];
  let malformed = 0;
  if (limit <= 0) return { records: [], malformed, files };
  for (let i = 0; i <= maxBackups && newestFirst.length < limit; i++) {
    const file = i === 0 ? path : `${path}.${i}`;
    let seen = false;
    // The live file may end in a line the proxy is still writing; rotated files are complete.
    for await (const line of linesBackward(file, { dropUnterminated: i === 0 })) {
      seen = true;
      const record = parseTraceLine(line);
      if (record === null) malformed++;
      else newestFirst.push(record);
      if (newestFirst.length >= limit) break;
    }
    if (seen) files.push(file);
    else if (i > 0 && !(await exists(file))) break;
  }
  return { records: newestFirst.reverse(), malformed, files };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
