// Store a health check in state: per-key last usage and check time, auth/payment blocks found, auth blocks lifted.
import { blockKey, clearBlock, keyState, markExhausted } from '../state/key-state.js';
import type { StateBackend } from '../state/backend.js';
import { formatUtc, parseUtc, type State } from '../state/schema.js';
import type { UsageResult } from './usage-client.js';

export interface SaveHealthOptions {
  /** KMI_PAYMENT_BLOCK_SECONDS; 0 = until unblocked by hand. Default 3600. */
  readonly paymentBlockSeconds?: number;
  /** KMI_ROTATION_COOLDOWN_SECONDS: a 403-quota or 429 answer puts the key in cooldown this long. Default 300. */
  readonly cooldownSeconds?: number;
}

export interface SaveHealthOutcome {
  readonly state: State;
  /** Keys this check blocked (or re-blocked), with the reason. */
  readonly blocked: ReadonlyArray<{ readonly label: string; readonly reason: 'auth' | 'payment' }>;
  /** Keys whose `auth` block this check lifted (the key answered /usages again). */
  readonly unblocked: readonly string[];
}

/**
 * Merge one health check into state under the store's lock: only the fields this check owns are
 * assigned, key by key, so a proxy's concurrent counter updates survive.
 */
export async function saveHealthToState(
  store: Pick<StateBackend, 'update'>,
  results: ReadonlyMap<string, UsageResult>,
  now: number,
  options: SaveHealthOptions = {},
): Promise<SaveHealthOutcome> {
  const paymentSeconds = options.paymentBlockSeconds ?? 3600;
  const stamp = formatUtc(now);
  const blocked: Array<{ label: string; reason: 'auth' | 'payment' }> = [];
  const unblocked: string[] = [];
  const state = await store.update((s) => {
    // update() may retry mutate on a fresh read; start clean each time.
    blocked.length = 0;
    unblocked.length = 0;
    for (const [label, result] of results) {
      const ks = keyState(s, label);
      ks.last_checked_at = stamp;
      if (result.ok) {
        ks.last_usage = result.snapshot;
        ks.last_usage_at = stamp;
        if (ks.blocked_reason === 'auth' && clearBlock(ks)) unblocked.push(label);
        continue;
      }
      if (result.kind === 'auth') {
        if (ks.blocked_reason !== 'auth') blockKey(ks, 'auth', now, null);
        blocked.push({ label, reason: 'auth' });
      } else if (result.kind === 'quota' || result.kind === 'rate') {
        markExhausted(ks, now + (options.cooldownSeconds ?? 300) * 1000);
      } else if (result.kind === 'payment') {
        const until = paymentSeconds > 0 ? now + paymentSeconds * 1000 : null;
        const current = ks.blocked_reason === 'payment' ? parseUtc(ks.blocked_until) : null;
        const keepsLonger =
          ks.blocked_reason === 'payment' &&
          (ks.blocked_until == null || (current !== null && until !== null && current >= until));
        if (!keepsLonger) blockKey(ks, 'payment', now, until);
        blocked.push({ label, reason: 'payment' });
      }
    }
    s.last_health_refresh = stamp;
  });
  return { state, blocked, unblocked };
}
