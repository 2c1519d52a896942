// Append-only line writer off the hot path: queues lines, writes them in batches, rotates by size, never throws.
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LineQueue, type LineBatch } from './line-queue.js';
import {
  ensureSecureDir,
  errnoCode,
  secureFileMode,
  tightenMode,
  SECURE_FILE_MODE,
} from './secure.js';

export interface RotatingWriterOptions {
  readonly path: string;
  /** Rotate before a batch would push the file past this size (a single longer line still goes in whole). */
  readonly maxBytes: number;
  /** Rotated files kept: `path.1` (newest) … `path.N`. 0 = the full file is removed, nothing kept. */
  readonly backups: number;
  /** Folder 0700, file 0600 (POSIX). */
  readonly enforcePerms: boolean;
  /** Longest a queued line waits before its batch is written (default 200 ms). */
  readonly flushIntervalMs?: number;
  /** Queued bytes that trigger a write at the next turn of the event loop (default 256 KiB). */
  readonly batchBytes?: number;
  /** Queue bound in lines; the oldest are dropped beyond it (default 10 000). */
  readonly maxQueuedLines?: number;
}

export interface RotatingWriterStats {
  /** Lines appended to disk. */
  readonly written: number;
  /** Lines lost: queue overflow, failed writes, writes after close. */
  readonly dropped: number;
  /** Failed file operations (open, write, rotate). */
  readonly errors: number;
  /** errno code (or message) of the most recent failure. */
  readonly lastError: string | null;
  readonly rotations: number;
}

export interface RotatingWriter {
  readonly path: string;
  /** Queue one line (a trailing newline is added when missing). Never blocks, never throws. */
  write(line: string): void;
  /** `write` for a line already encoded as UTF-8: the first `length` bytes of `src`, copied at once. */
  writeBytes(src: Buffer, length: number): void;
  /** Resolves once every line queued before the call is on disk (or counted as lost). */
  flush(): Promise<void>;
  /** Flush, then release the file. Later writes are dropped. */
  close(): Promise<void>;
  readonly errors: number;
  readonly dropped: number;
  stats(): RotatingWriterStats;
}

/** Batches written closer together than this skip the check for a rename by another process. */
const RENAME_CHECK_MS = 100;

export function createRotatingWriter(options: RotatingWriterOptions): RotatingWriter {
  const { path, enforcePerms } = options;
  const maxBytes = Math.max(1, options.maxBytes);
  const backups = Math.max(0, Math.floor(options.backups));
  const intervalMs = options.flushIntervalMs ?? 200;
  const batchBytes = options.batchBytes ?? 256 * 1024;
  const maxLines = Math.max(1, options.maxQueuedLines ?? 10_000);

  // Lines are encoded into reusable buffers as they come: no string is kept, nothing is joined.
  // Buffers for a batch in flight and as much again queued behind it are reused.
  const queue = new LineQueue({ reuseBytes: 2 * batchBytes });

  let handle: FileHandle | null = null;
  let handleIno = -1;
  let size = 0;
  let dirReady = false;
  /** When the open file was last checked against the path (Date.now()). */
  let checkedAt = 0;

  let timer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;
  let draining: Promise<void> | null = null;
  let closed = false;

  let written = 0;
  let dropped = 0;
  let errors = 0;
  let lastError: string | null = null;
  let rotations = 0;

  const pending = () => queue.lines;

  function fail(err: unknown): void {
    errors++;
    lastError = errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
  }

  function schedule(): void {
    if (draining !== null || immediate !== null) return;
    if (queue.bytes >= batchBytes) {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      immediate = setImmediate(() => {
        immediate = null;
        void drain();
      });
    } else if (timer === null) {
      timer = setTimeout(() => {
        timer = null;
        void drain();
      }, intervalMs);
    }
  }

  async function closeHandle(): Promise<void> {
    const h = handle;
    handle = null;
    handleIno = -1;
    if (h !== null) {
      try {
        await h.close();
      } catch (err) {
        fail(err);
      }
    }
  }

  /**
   * Open (or re-open) the file, following renames made by another process or a reader. Under
   * sustained load the rename check runs at most every RENAME_CHECK_MS; `recheck` forces it.
   */
  async function ensureOpen(recheck: boolean): Promise<void> {
    if (handle !== null) {
      const now = Date.now();
      if (!recheck && now - checkedAt < RENAME_CHECK_MS) return;
      checkedAt = now;
      // Another writer (the CLI next to a running proxy) may have rotated the file under us.
      try {
        const st = await stat(path);
        if (st.ino === handleIno) {
          size = st.size;
          return;
        }
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      await closeHandle();
    }
    if (!dirReady) {
      await ensureSecureDir(dirname(path), enforcePerms);
      dirReady = true;
    }
    const mode = secureFileMode(enforcePerms);
    const h = await open(path, 'a', mode ?? 0o666);
    try {
      const st = await h.stat();
      handle = h;
      handleIno = st.ino;
      size = st.size;
      checkedAt = Date.now();
      if (mode !== undefined && (st.mode & 0o777 & ~SECURE_FILE_MODE) !== 0) {
        await tightenMode(path, SECURE_FILE_MODE, enforcePerms);
      }
    } catch (err) {
      await h.close().catch(() => {});
      throw err;
    }
  }

  async function rotate(): Promise<void> {
    await closeHandle();
    rotations++;
    if (backups === 0) {
      await unlink(path).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') throw err;
      });
    } else {
      for (let i = backups - 1; i >= 1; i--) {
        await rename(`${path}.${i}`, `${path}.${i + 1}`).catch((err: unknown) => {
          if (errnoCode(err) !== 'ENOENT') throw err;
        });
      }
      await rename(path, `${path}.1`).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') throw err;
      });
    }
    size = 0;
  }

  /** Append `views` in order with as few system calls as possible (one, unless the kernel takes less). */
  async function writeAll(views: Buffer[]): Promise<void> {
    let rest = views;
    while (rest.length > 0) {
      const { bytesWritten } =
        rest.length === 1 ? await handle!.write(rest[0]!) : await handle!.writev(rest);
      if (bytesWritten <= 0) throw new Error('the file took no bytes');
      rest = unwritten(rest, bytesWritten);
    }
  }

  /** Write one batch: as many lines as fit before the size limit; rotate when the next line does not fit. */
  async function writeBatch(batch: LineBatch, recheck: boolean): Promise<void> {
    try {
      await ensureOpen(recheck);
      // The usual case: the whole batch fits the file.
      if (size + batch.bytes <= maxBytes || (size === 0 && batch.lines === 1)) {
        await writeAll(batch.views);
        size += batch.bytes;
        written += batch.lines;
        return;
      }
    } catch (err) {
      await lost(err, batch.lines);
      return;
    }
    await writeBatchRotating(batch.lineViews());
  }

  /** A batch that crosses the size limit: the lines that fit, then rotate, and so on. */
  async function writeBatchRotating(lines: Buffer[]): Promise<void> {
    let i = 0;
    while (i < lines.length) {
      try {
        await ensureOpen(true);
        if (size > 0 && size + lines[i]!.length > maxBytes) {
          await rotate();
          await ensureOpen(true);
        }
        let end = i;
        let bytes = 0;
        while (end < lines.length && (end === i || size + bytes + lines[end]!.length <= maxBytes)) {
          bytes += lines[end]!.length;
          end++;
        }
        await writeAll([Buffer.concat(lines.slice(i, end), bytes)]);
        size += bytes;
        written += end - i;
        i = end;
      } catch (err) {
        await lost(err, lines.length - i);
        return;
      }
    }
  }

  /** A full disk or a vanished folder costs this batch, never the process. */
  async function lost(err: unknown, lines: number): Promise<void> {
    fail(err);
    dropped += lines;
    dirReady = false;
    await closeHandle();
  }

  /**
   * Write what is queued. Lines queued meanwhile wait for their own timer unless they already make a
   * full batch (or `force`, from flush/close), so sustained load still gives few, large writes.
   */
  function drain(force = false): Promise<void> {
    if (draining !== null) return draining;
    if (pending() === 0) return Promise.resolve();
    draining = (async () => {
      // Yield once so `draining` is assigned before the finally below can clear it.
      await null;
      try {
        while (pending() > 0) {
          const batch = queue.take();
          await writeBatch(batch, force);
          queue.release(batch);
          if (!force && queue.bytes < batchBytes) break;
        }
      } finally {
        draining = null;
        if (pending() > 0) schedule();
      }
    })();
    return draining;
  }

  /** A line was queued: keep the queue bounded and make sure a write is coming. */
  function queued(): void {
    if (queue.lines > maxLines) {
      queue.dropOldest();
      dropped++;
    }
    schedule();
  }

  async function flush(): Promise<void> {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (immediate !== null) {
      clearImmediate(immediate);
      immediate = null;
    }
    // A drain in progress may have taken its lines before ours were queued: drain until empty.
    while (draining !== null || pending() > 0) await drain(true);
  }

  return {
    path,
    write(line: string): void {
      if (closed) {
        dropped++;
        return;
      }
      queue.push(line);
      queued();
    },
    writeBytes(src: Buffer, length: number): void {
      if (closed) {
        dropped++;
        return;
      }
      queue.pushBytes(src, length);
      queued();
    },
    flush,
    async close(): Promise<void> {
      closed = true;
      await flush();
      await closeHandle();
    },
    get errors() {
      return errors;
    },
    get dropped() {
      return dropped;
    },
    stats: () => ({ written, dropped, errors, lastError, rotations }),
  };
}

/** What is left of `views` after the first `bytes` of them were written (a short write). */
export function unwritten(views: Buffer[], bytes: number): Buffer[] {
  let skip = bytes;
  let i = 0;
  while (i < views.length && skip >= views[i]!.length) skip -= views[i++]!.length;
  if (i === views.length) return [];
  const rest = views.slice(i);
  if (skip > 0) rest[0] = rest[0]!.subarray(skip);
  return rest;
}
