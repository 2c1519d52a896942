// Request bodies buffered with a limit (for replay on failover), and error-body prefixes decoded for classification.
import type { IncomingMessage } from 'node:http';
import { brotliDecompressSync, constants, gunzipSync, inflateSync } from 'node:zlib';

export type RequestBody = Buffer | 'too_large' | 'aborted';

/** Buffer the whole request body, stopping (without keeping more) as soon as it passes `maxBytes`. */
export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<RequestBody> {
  return new Promise((resolve) => {
    let first: Buffer | null = null;
    let more: Buffer[] | null = null;
    let size = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > maxBytes) {
        settled = true;
        req.pause();
        resolve('too_large');
      } else if (first === null) first = chunk;
      else (more ??= [first]).push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(more !== null ? Buffer.concat(more, size) : (first ?? Buffer.alloc(0)));
    });
    // 'close' before 'end': the client went away mid-body ('error' is emitted only to listeners).
    req.on('close', () => {
      if (settled) return;
      settled = true;
      resolve('aborted');
    });
  });
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
