// Reading the end of line files (kmi.log, proxy.out, trace.jsonl): last lines, --since filters, follow across rotation.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { errnoCode } from '../files/secure.js';
import { parseUserTime } from '../zoned-time.js';

const NEWLINE = 0x0a;
const DEFAULT_CHUNK = 64 * 1024;

export interface LinesBackwardOptions {
  /** Bytes read per step (default 64 KiB). */
  readonly chunkBytes?: number;
  /** Skip a last line with no newline after it (a writer may be half-way through it). */
  readonly dropUnterminated?: boolean;
}

/**
 * Lines of a file from the last to the first, reading it backwards in chunks, so the tail of a
 * multi-megabyte file costs only the bytes actually needed. Empty lines are skipped; `\r` is
 * stripped. A missing file yields nothing.
 */
export async function* linesBackward(
  path: string,
  options: LinesBackwardOptions = {},
): AsyncGenerator<string> {
  const chunkBytes = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  try {
    const size = (await handle.stat()).size;
    let pos = size;
    let carry: Buffer = Buffer.alloc(0);
    let first = true;
    while (pos > 0) {
      const len = Math.min(chunkBytes, pos);
      pos -= len;
      const chunk = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await handle.read(chunk, got, len - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      let buf =
        carry.length > 0 ? Buffer.concat([chunk.subarray(0, got), carry]) : chunk.subarray(0, got);
      if (first) {
        first = false;
        if (options.dropUnterminated && buf.length > 0 && buf[buf.length - 1] !== NEWLINE) {
          const nl = buf.lastIndexOf(NEWLINE);
          if (nl < 0) {
            // The whole chunk is one unterminated line; drop what we have and keep looking backwards.
            carry = Buffer.alloc(0);
            buf = Buffer.alloc(0);
            first = true;
            if (pos === 0) return;
            // Continue reading earlier bytes until the previous newline is found.
            continue;
          }
          buf = buf.subarray(0, nl + 1);
        }
      }
      let end = buf.length;
      for (let i = buf.length - 1; i >= 0; i--) {
        if (buf[i] !== NEWLINE) continue;
        const line = lineOf(buf.subarray(i + 1, end));
        end = i;
        if (line !== '') yield line;
      }
      carry = Buffer.from(buf.subarray(0, end));
    }
    const last = lineOf(carry);
    if (last !== '') yield last;
  } finally {
    await handle.close().catch(() => {});
  }
}

function lineOf(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/** The last `n` non-empty lines of a file, oldest first. A missing file gives []. */
export async function readLastLines(path: string, n: number): Promise<string[]> {
  const out: string[] = [];
  if (n <= 0) return out;
  for await (const line of linesBackward(path)) {
    out.push(line);
    if (out.length >= n) break;
  }
  return out.reverse();
}

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * `--since`: a duration back from now (`30s`, `10m`, `2h`, `1d`, `1w`) or a time (`2026-03-01`,
 * `2026-03-01 14:00`, ISO with or without offset; without one it is read in `timezone`).
 * Returns epoch ms, or null when the text is neither.
 */
export function parseSince(text: string, nowMs: number, timezone: string): number | null {
  const t = text.trim();
  const rel = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(t);
  if (rel) return nowMs - Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!;
  return parseTimeText(t, timezone);
}

/** parseUserTime plus fractional seconds (`…:05.123Z`), which ISO writers often add. */
function parseTimeText(text: string, timezone: string): number | null {
  const frac = /^(.*?\d\d:\d\d:\d\d)\.(\d{1,9})(.*)$/.exec(text);
  if (!frac) return parseUserTime(text, timezone);
  const base = parseUserTime(`${frac[1]}${frac[3]}`, timezone);
  if (base === null) return null;
  return base + Math.floor(Number(`0.${frac[2]}`) * 1000);
}

const LEADING_TIME =
  /^\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:\s?(?:Z|[+-]\d\d:?\d\d)(?![\d:]))?)/i;

/**
 * When a log line happened: the `ts` (or `time`/`timestamp`) of a JSON line, else a leading
 * `YYYY-MM-DD HH:MM:SS[.fff][ +HHMM|Z]` or ISO prefix (optionally in `[…]`). A time without offset
 * is read in `timezone` (default: the machine's local zone). Null when the line carries no time.
 */
export function lineTimestamp(line: string, timezone = 'local'): number | null {
  const text = line.trimStart();
  if (text.startsWith('{')) {
    try {
      const obj = JSON.parse(text) as Record<string, unknown>;
      for (const field of ['ts', 'time', 'timestamp']) {
        const v = obj[field];
        if (typeof v === 'string') {
          const ms = parseTimeText(v.replace(',', '.').trim(), timezone);
          if (ms !== null) return ms;
        } else if (typeof v === 'number' && Number.isFinite(v)) {
          return v > 1e12 ? v : v * 1000;
        }
      }
    } catch {
      // Not JSON after all: try the prefix form below.
    }
  }
  const m = LEADING_TIME.exec(text);
  if (!m) return null;
  return parseTimeText(m[1]!.replace(',', '.'), timezone);
}

/**
 * Keep lines at or after `sinceMs`. Lines without a time (stack traces, wrapped output) follow
 * the decision of the line before them; leading ones are kept only when nothing is filtered.
 */
export function linesSince(
  lines: readonly string[],
  sinceMs: number,
  timezone = 'local',
): string[] {
  const out: string[] = [];
  let keep = false;
  for (const line of lines) {
    const ms = lineTimestamp(line, timezone);
    if (ms !== null) keep = ms >= sinceMs;
    if (keep) out.push(line);
  }
  return out;
}

export interface FollowOptions {
  readonly signal: AbortSignal;
  /** How often the file is checked (default 250 ms). */
  readonly intervalMs?: number;
  /** Start at the beginning of the current file instead of its end. */
  readonly fromStart?: boolean;
  /** Called for I/O errors other than a missing file; following goes on. */
  readonly onError?: (err: unknown) => void;
}

/**
 * Call `onLine` for every line appended to `path` until `signal` aborts. Survives rotation: when
 * the name points to a new file (inode changed) the rest of the old one is read first, then the new
 * one from its start; a file that shrank (copy-truncate) is read again from its start. Polling, not
 * fs.watch, because watchers lose track of renamed files on some platforms.
 */
export async function followFile(
  path: string,
  onLine: (line: string) => void,
  options: FollowOptions,
): Promise<void> {
  const { signal } = options;
  const intervalMs = options.intervalMs ?? 250;
  let handle: FileHandle | null = null;
  let ino = -1;
  let pos = 0;
  let partial = '';
  const buf = Buffer.alloc(DEFAULT_CHUNK);

  const emit = (text: string) => {
    const all = partial + text;
    const parts = all.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      const line = p.endsWith('\r') ? p.slice(0, -1) : p;
      if (line !== '') onLine(line);
    }
  };

  const flushPartial = () => {
    if (partial !== '') {
      const line = partial;
      partial = '';
      onLine(line);
    }
  };

  async function openCurrent(atEnd: boolean): Promise<boolean> {
    try {
      const h = await open(path, 'r');
      const st = await h.stat();
      handle = h;
      ino = st.ino;
      pos = atEnd ? st.size : 0;
      return true;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') options.onError?.(err);
      return false;
    }
  }

  async function readNew(): Promise<void> {
    if (handle === null) return;
    const size = (await handle.stat()).size;
    if (size < pos) {
      // Truncated in place: what is there now is new.
      pos = 0;
      partial = '';
    }
    // Decode only whole UTF-8 sequences by carrying incomplete bytes to the next read.
    let pendingBytes: Buffer = Buffer.alloc(0);
    while (pos < size && !signal.aborted) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const bytes: Buffer =
        pendingBytes.length > 0
          ? Buffer.concat([pendingBytes, buf.subarray(0, bytesRead)])
          : buf.subarray(0, bytesRead);
      const cut = completeUtf8Length(bytes);
      emit(bytes.subarray(0, cut).toString('utf8'));
      pendingBytes = Buffer.from(bytes.subarray(cut));
    }
    if (pendingBytes.length > 0) emit(pendingBytes.toString('utf8'));
  }

  async function closeHandle(): Promise<void> {
    const h = handle;
    handle = null;
    ino = -1;
    if (h !== null) await h.close().catch(() => {});
  }

  async function tick(): Promise<void> {
    if (handle === null) {
      if (await openCurrent(false)) await readNew();
      return;
    }
    await readNew();
    let current: number | null = null;
    try {
      current = (await stat(path)).ino;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    if (current !== null && current !== ino) {
      // Rotated: the old file is drained above; switch to the new one from its start.
      flushPartial();
      await closeHandle();
      if (await openCurrent(false)) await readNew();
    }
  }

  if (signal.aborted) return;
  if (await openCurrent(!options.fromStart)) {
    try {
      await readNew();
    } catch (err) {
      options.onError?.(err);
    }
  }
  try {
    while (!signal.aborted) {
      await sleep(intervalMs, signal);
      if (signal.aborted) break;
      try {
        await tick();
      } catch (err) {
        options.onError?.(err);
      }
    }
  } finally {
    await closeHandle();
  }
}

/** Length of the prefix of `bytes` that ends on a UTF-8 character boundary. */
function completeUtf8Length(bytes: Buffer): number {
  let i = bytes.length - 1;
  let back = 0;
  while (i >= 0 && back < 4 && (bytes[i]! & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return bytes.length;
  const lead = bytes[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.length - i >= need ? bytes.length : i;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
