// How a secret is shown: masked to its first and last 4 characters, or hashed.
import { createHash } from 'node:crypto';

/** `sk-abcdefghwxyz` → `sk-a…wxyz`. Short secrets show only their last 2 characters. */
export function maskKey(key: string): string {
  if (key.length >= 12) return `${key.slice(0, 4)}…${key.slice(-4)}`;
  if (key.length >= 6) return `…${key.slice(-2)}`;
  return '…';
}

/** First 12 hex digits of the SHA-256 of the key. */
export function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}
