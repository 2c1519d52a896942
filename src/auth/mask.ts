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

// `sk-…` keys and `Bearer <token>` values inside free text (error bodies, log values, parser messages).
const SECRET_IN_TEXT =
  /(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{6,}|(\bBearer\s+)([A-Za-z0-9._~+/=-]{8,})/gi;

/** Mask every key or bearer token found in `text` (`sk-a…wxyz`); other text is left as it is. */
export function maskSecretsInText(text: string): string {
  if (!/sk-|bearer/i.test(text)) return text;
  return text.replace(SECRET_IN_TEXT, (match: string, bearer?: string, token?: string) =>
    bearer !== undefined && token !== undefined ? `${bearer}${maskKey(token)}` : maskKey(match),
  );
}
