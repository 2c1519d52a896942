// Blocklist recheck: ask /usages for blocked keys (least recently checked first) and lift the blocks of those that answer.
import type { KeyRecord } from '../auth/types.js';
import { blockedUntilMs, clearBlock, isBlocked, keyState } from '../state/key-state.js';
import type { StateBackend } from '../state/backend.js';
import { formatUtc, parseUtc, type State } from '../state/schema.js';
import type { UsageResult } from './usage-client.js';

export interface RecheckOutcome {
  readonly label: string;
  readonly result: UsageResult;
  /** The block was lifted. */
  readonly unblocked: boolean;
  /** Still blocked because a payment block has not reached its end. */
  readonly paymentHeld: boolean;
}

/** Blocked keys, least recently checked first, so none starves; at most `max` (0 = all). */
export function pickBlockedForRecheck(
  keys: readonly KeyRecord[],
  state: State,
  nowMs: number,
  max: number,
): KeyRecord[] {
  const blocked = keys.filter(
    (k) =>
      !k.disabled && state.keys[k.label] !== undefined && isBlocked(state.keys[k.label]!, nowMs),
  );
  const checkedAt = (k: KeyRecord) =>
    parseUtc(state.keys[k.label]?.last_checked_at) ??
    parseUtc(state.keys[k.label]?.blocked_at) ??
    0;
  blocked.sort((a, b) => checkedAt(a) - checkedAt(b) || a.label.localeCompare(b.label));
  return max > 0 ? blocked.slice(0, max) : blocked;
}

/**
 * Recheck `keys` with `fetch` and record the outcome: a key whose /usages succeeds is unblocked
 * (an `auth` block always; a `payment` block only once its `blocked_until` has passed, and one
 * without an end only by hand). Writes last_checked_at / last_usage for every key checked.
 */
export async function recheckBlockedKeys(options: {
  readonly keys: readonly KeyRecord[];
  readonly store: Pick<StateBackend, 'update'>;
  readonly fetch: (key: KeyRecord) => Promise<UsageResult>;
  readonly nowMs: number;
}): Promise<RecheckOutcome[]> {
  const results = await Promise.all(
    options.keys.map(async (k) => [k, await options.fetch(k)] as const),
  );
  const outcomes: RecheckOutcome[] = [];
  const stamp = formatUtc(options.nowMs);
  await options.store.update((state) => {
    outcomes.length = 0;
    for (const [key, result] of results) {
      const ks = keyState(state, key.label);
      ks.last_checked_at = stamp;
      let unblocked = false;
      let paymentHeld = false;
      if (result.ok) {
        ks.last_usage = result.snapshot;
        ks.last_usage_at = stamp;
        if (ks.blocked_reason === 'payment' && isBlocked(ks, options.nowMs)) {
          paymentHeld = true;
        } else if (
          isBlocked(ks, options.nowMs) ||
          blockedUntilMs(ks, options.nowMs) !== null ||
          ks.blocked_reason != null
        ) {
          unblocked = clearBlock(ks);
          ks.consecutive_failures = 0;
        }
      }
      outcomes.push({ label: key.label, result, unblocked, paymentHeld });
    }
  });
  return outcomes;
}
