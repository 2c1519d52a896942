// LineQueue: lines waiting for the disk, encoded as UTF-8 straight into reusable buffers (no string kept, no join), oldest first.

/** Buffers of this size hold many lines each; a longer line gets a buffer of its own. */
const CHUNK_BYTES = 64 * 1024;

export interface LineQueueOptions {
  /**
   * Written buffers are kept for reuse up to about this many bytes (default 256 KiB). Enough for a
   * batch being written plus the lines queued behind it means a busy queue allocates nothing: a
   * fresh buffer that outlives a few young-generation GCs is only freed by a full GC, so the
   * process would hold megabytes of them (RSS) in between.
   */
  readonly reuseBytes?: number;
}

interface Chunk {
  readonly buf: Buffer;
  /** End offset (exclusive) of each line in `buf`. */
  readonly ends: number[];
  /** Index in `ends` of the first line still queued (older ones were dropped). */
  head: number;
  /** Bytes of `buf` in use. */
  used: number;
}

/** Queued lines taken out for writing; hand it back with `release` once written. */
export interface LineBatch {
  readonly lines: number;
  readonly bytes: number;
  /** The whole batch as buffer views, in order (for one write). */
  readonly views: Buffer[];
  /** Each line as its own view, in order (for writes that must stop at a line end). */
  lineViews(): Buffer[];
}

interface Batch extends LineBatch {
  readonly chunks: Chunk[];
}

export class LineQueue {
  private chunks: Chunk[] = [];
  private spare: Buffer[] = [];
  private readonly maxSpare: number;
  private count = 0;
  private size = 0;

  constructor(options: LineQueueOptions = {}) {
    // +1: the buffer being filled when a batch is taken is part of neither.
    this.maxSpare = Math.ceil((options.reuseBytes ?? 4 * CHUNK_BYTES) / CHUNK_BYTES) + 1;
  }

  /** Lines queued. */
  get lines(): number {
    return this.count;
  }

  /** Bytes queued. */
  get bytes(): number {
    return this.size;
  }

  /** Queue one line; a newline is added when it does not end in one. */
  push(line: string): void {
    // Worst case of UTF-8 for one UTF-16 unit is 3 bytes; +1 for the newline.
    const chunk = this.chunkWithRoom(line.length * 3 + 1);
    const start = chunk.used;
    this.added(chunk, start, start + chunk.buf.write(line, start, 'utf8'));
  }

  /** Queue one line already encoded as UTF-8: the first `length` bytes of `src`, copied now. */
  pushBytes(src: Buffer, length: number): void {
    const chunk = this.chunkWithRoom(length + 1);
    const start = chunk.used;
    src.copy(chunk.buf, start, 0, length);
    this.added(chunk, start, start + length);
  }

  private chunkWithRoom(room: number): Chunk {
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || chunk.buf.length - chunk.used < room) {
      chunk = this.newChunk(room);
      this.chunks.push(chunk);
    }
    return chunk;
  }

  /** Bytes [start, end) of `chunk` hold a new line; a newline is added when it does not end in one. */
  private added(chunk: Chunk, start: number, end: number): void {
    if (end === start || chunk.buf[end - 1] !== 0x0a) chunk.buf[end++] = 0x0a;
    chunk.used = end;
    chunk.ends.push(end);
    this.count++;
    this.size += end - start;
  }

  /** Drop the oldest queued line (the queue is over its bound). */
  dropOldest(): void {
    const chunk = this.chunks[0];
    if (chunk === undefined) return;
    const start = chunk.head === 0 ? 0 : chunk.ends[chunk.head - 1]!;
    this.size -= chunk.ends[chunk.head]! - start;
    chunk.head++;
    this.count--;
    if (chunk.head === chunk.ends.length) {
      this.chunks.shift();
      this.recycle(chunk);
    }
  }

  /** Everything queued, as one batch; the queue starts empty again. */
  take(): LineBatch {
    const chunks = this.chunks;
    const batch: Batch = {
      chunks,
      lines: this.count,
      bytes: this.size,
      views: chunks.map((c) => c.buf.subarray(c.head === 0 ? 0 : c.ends[c.head - 1], c.used)),
      lineViews: () => {
        const out: Buffer[] = [];
        for (const c of chunks) {
          for (let i = c.head; i < c.ends.length; i++) {
            out.push(c.buf.subarray(i === 0 ? 0 : c.ends[i - 1], c.ends[i]));
          }
        }
        return out;
      },
    };
    this.chunks = [];
    this.count = 0;
    this.size = 0;
    return batch;
  }

  /** The batch is on disk (or given up): its buffers can hold new lines. */
  release(batch: LineBatch): void {
    for (const chunk of (batch as Batch).chunks) this.recycle(chunk);
  }

  private newChunk(room: number): Chunk {
    const buf =
      room <= CHUNK_BYTES
        ? (this.spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES))
        : Buffer.allocUnsafeSlow(room);
    return { buf, ends: [], head: 0, used: 0 };
  }

  private recycle(chunk: Chunk): void {
    if (chunk.buf.length === CHUNK_BYTES && this.spare.length < this.maxSpare) {
      this.spare.push(chunk.buf);
    }
  }
}
