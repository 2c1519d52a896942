// keyCondition: a key's standing from its auth record and state alone (no /usages call): ok, disabled, blocked or exhausted.
import type { KeyRecord } from '../auth/types.js';
import { isBlocked, isExhausted } from '../state/key-state.js';
import type { KeyState } from '../state/schema.js';

export type KeyCondition = 'ok' | 'disabled' | 'blocked' | 'exhausted';

export function keyCondition(
  key: KeyRecord,
  ks: KeyState | undefined,
  nowMs: number,
): KeyCondition {
  if (key.disabled) return 'disabled';
  if (ks === undefined) return 'ok';
  if (isBlocked(ks, nowMs)) return 'blocked';
  if (isExhausted(ks, nowMs)) return 'exhausted';
  return 'ok';
}
