// Compressed error-body prefixes are decoded for classification only; anything unreadable falls back to raw text.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { textForClassification } from './body.js';

describe('textForClassification', () => {
  const msg = '{"error":{"message":"insufficient balance"}}';
  it('decodes gzip, deflate and br, also when cut short', () => {
    expect(textForClassification(gzipSync(msg), 'gzip')).toBe(msg);
    expect(textForClassification(deflateSync(msg), 'deflate')).toBe(msg);
    expect(textForClassification(brotliCompressSync(msg), 'br')).toBe(msg);
    const long = `${msg}${'x'.repeat(100_000)}`;
    const cut = gzipSync(long).subarray(0, 200);
    expect(textForClassification(cut, 'gzip').startsWith(msg)).toBe(true);
  });

  it('falls back to the raw bytes', () => {
    expect(textForClassification(Buffer.from(msg), undefined)).toBe(msg);
    expect(textForClassification(Buffer.from('not gzip'), 'gzip')).toBe('not gzip');
  });
});
