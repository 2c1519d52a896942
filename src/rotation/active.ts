// The active key: by `active_label` when it still exists, else by `active_index` (the Python tool's field), clamped.
import type { KeyRecord } from '../auth/types.js';
import type { State } from '../state/schema.js';

export function activeKey(
  keys: readonly KeyRecord[],
  state: Pick<State, 'active_label' | 'active_index'>,
): KeyRecord | null {
  if (keys.length === 0) return null;
  if (typeof state.active_label === 'string') {
    const byLabel = keys.find((k) => k.label === state.active_label);
    if (byLabel) return byLabel;
  }
  const index = Number.isInteger(state.active_index) ? state.active_index : 0;
  return keys[Math.min(Math.max(index, 0), keys.length - 1)] ?? null;
}
