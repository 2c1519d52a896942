// Request bodies buffered with a limit (for replay on failover), and error-body prefixes decoded for classification.
import type { IncomingMessage } from 'node:http';
import { brotliDecompressSync, constants, gunzipSync, inflateSync } from 'node:zlib';

export type RequestBody = Buffer | 'too_large' | 'aborted';

/** One body being read: kept on the request, so the three listeners are shared functions, not closures. */
interface BodyRead {
  readonly maxBytes: number;
  readonly resolve: (body: RequestBody) => void;
  first: Buffer | null;
  more: Buffer[] | null;
  size: number;
}

const READ = Symbol('kmi.bodyRead');
type Reading = IncomingMessage & { [READ]?: BodyRead | undefined };

/** Buffer the whole request body, stopping (without keeping more) as soon as it passes `maxBytes`. */
export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<RequestBody> {
  return new Promise((resolve) => {
    (req as Reading)[READ] = { maxBytes, resolve, first: null, more: null, size: 0 };
    req.on('data', onData);
    req.on('end', onEnd);
    // 'close' before 'end': the client went away mid-body ('error' is emitted only to listeners).
    req.on('close', onClose);
  });
}

/** The read in progress, which is then over. */
function settle(req: Reading): BodyRead | undefined {
  const read = req[READ];
  req[READ] = undefined;
  return read;
}

function onData(this: Reading, chunk: Buffer): void {
  const read = this[READ];
  if (read === undefined) return;
  read.size += chunk.length;
  if (read.size > read.maxBytes) {
    settle(this);
    this.pause();
    read.resolve('too_large');
  } else if (read.first === null) read.first = chunk;
  else (read.more ??= [read.first]).push(chunk);
}

function onEnd(this: Reading): void {
  const read = settle(this);
  if (read === undefined) return;
  const { first, more, size } = read;
  read.resolve(more !== null ? Buffer.concat(more, size) : (first ?? Buffer.alloc(0)));
}

function onClose(this: Reading): void {
  settle(this)?.resolve('aborted');
}

const MAX_DECODED = 256 * 1024;

/**
 * Text of an error-body prefix for classification only (the client still gets the original bytes):
 * gzip/deflate/br are decoded as far as the prefix goes; anything unreadable falls back to raw text.
 */
export function textForClassification(
  prefix: Buffer,
  contentEncoding: string | string[] | undefined,
): string {
  const enc = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : (contentEncoding ?? ''))
    .trim()
    .toLowerCase();
  try {
    if (enc === 'gzip' || enc === 'x-gzip') {
      return gunzipSync(prefix, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_DECODED,
      }).toString('utf8');
    }
    if (enc === 'deflate') {
      return inflateSync(prefix, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_DECODED,
      }).toString('utf8');
    }
    if (enc === 'br') {
      return brotliDecompressSync(prefix, {
        finishFlush: constants.BROTLI_OPERATION_FLUSH,
        maxOutputLength: MAX_DECODED,
      }).toString('utf8');
    }
  } catch {
    // fall through: classify on the raw bytes
  }
  return prefix.toString('utf8');
}
