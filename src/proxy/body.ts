// Request bodies buffered with a limit (for replay on failover), and error-body prefixes decoded for classification.
import type { IncomingMessage } from 'node:http';
import { brotliDecompressSync, constants, gunzipSync, inflateSync } from 'node:zlib';

export type RequestBody = Buffer | 'too_large' | 'aborted';

/** Buffer the whole request body, stopping (without keeping more) as soon as it passes `maxBytes`. */
export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<RequestBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: RequestBody) => {
      if (settled) return;
      settled = true;
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      req.removeListener('close', onClose);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        settle('too_large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () =>
      settle(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    const onError = () => settle('aborted');
    const onClose = () => {
      if (!req.complete) settle('aborted');
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
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
