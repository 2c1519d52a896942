// Pure helpers over one key's state: get-or-create, block/exhaust checks and changes, counter deltas.
import {
  emptyKeyState,
  formatUtc,
  parseUtc,
  type BlockReason,
  type KeyState,
  type State,
} from './schema.js';

/** The state of `label`, created (empty) if the state has none yet. */
export function keyState(state: State, label: string): KeyState {
  if (Object.hasOwn(state.keys, label)) return state.keys[label] as KeyState;
  const created = emptyKeyState();
  Object.defineProperty(state.keys, label, {
    value: created,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return created;
}

/**
 * Blocked as the Python tool defines it: any block reason or time set, until `blocked_until` passes.
 * No `blocked_until` (e.g. a 401 block) means blocked until cleared by a recheck or by hand; an
 * unreadable `blocked_until` also counts as blocked, so a damaged entry never unblocks a bad key.
 */
export function isBlocked(ks: KeyState, nowMs: number): boolean {
  if (ks.blocked_reason == null && ks.blocked_until == null) return false;
  if (typeof ks.blocked_until === 'string' && ks.blocked_until !== '') {
    const until = parseUtc(ks.blocked_until);
    return until === null ? true : nowMs < until;
  }
  return true;
}

/** The block's end in ms; null when not blocked or blocked without an end. */
export function blockedUntilMs(ks: KeyState, nowMs: number): number | null {
  if (!isBlocked(ks, nowMs)) return null;
  return parseUtc(ks.blocked_until);
}

/** In cooldown (quota/429) until `exhausted_until`; an unreadable time does not count. */
export function isExhausted(ks: KeyState, nowMs: number): boolean {
  const until = parseUtc(ks.exhausted_until);
  return until !== null && nowMs < until;
}

/** Block a key; `untilMs` null means until a recheck or a manual unblock. */
export function blockKey(
  ks: KeyState,
  reason: BlockReason,
  nowMs: number,
  untilMs: number | null,
): void {
  ks.blocked_reason = reason;
  ks.blocked_until = untilMs === null ? null : formatUtc(untilMs);
  ks.blocked_at = formatUtc(nowMs);
}

/** Lift a block. Returns true when the key was blocked (or had leftover block fields). */
export function clearBlock(ks: KeyState): boolean {
  const had = ks.blocked_reason != null || ks.blocked_until != null;
  ks.blocked_reason = null;
  ks.blocked_until = null;
  if ('blocked_at' in ks) ks.blocked_at = null;
  return had;
}

/** Put a key in cooldown until `untilMs`, never shortening a longer cooldown already set. */
export function markExhausted(ks: KeyState, untilMs: number): void {
  const current = parseUtc(ks.exhausted_until);
  if (current !== null && current >= untilMs) return;
  ks.exhausted_until = formatUtc(untilMs);
}

export function clearExhausted(ks: KeyState): boolean {
  const had = ks.exhausted_until != null;
  ks.exhausted_until = null;
  return had;
}

export const KEY_COUNTERS = [
  'request_count',
  'error_401',
  'error_403',
  'error_429',
  'error_5xx',
] as const;
export type KeyCounter = (typeof KEY_COUNTERS)[number];
export type KeyCounterDelta = Partial<Record<KeyCounter, number>>;

/**
 * Add counter deltas (what the proxy batched since its last flush) to a key's state. Adding deltas
 * under the store's lock, instead of writing totals, is what keeps concurrent writers from losing
 * each other's counts.
 */
export function addKeyCounters(ks: KeyState, delta: KeyCounterDelta): void {
  for (const name of KEY_COUNTERS) {
    const add = delta[name];
    if (add === undefined || !Number.isFinite(add) || add === 0) continue;
    ks[name] = Math.max(0, (Number.isFinite(ks[name]) ? ks[name] : 0) + Math.trunc(add));
  }
}

/** Record that a key was used now (the Python tool's `mark_last_used`). */
export function markUsed(ks: KeyState, nowMs: number): void {
  ks.last_used = formatUtc(nowMs);
}
