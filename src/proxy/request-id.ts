// Request ids: 32 lowercase hex characters, cut from a pooled random buffer so each id costs no syscall.
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(16 * 256);
let offset = POOL.length;

export function newRequestId(): string {
  if (offset >= POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const id = POOL.toString('hex', offset, offset + 16);
  offset += 16;
  return id;
}
