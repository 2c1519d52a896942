// StateBackend: what every state store offers (the JSON file store today, Redis later).
import type { State } from './schema.js';

export type StateEvent =
  | {
      readonly kind: 'corrupt';
      readonly path: string;
      readonly movedTo: string;
      readonly reason: string;
    }
  | { readonly kind: 'permissions-fixed'; readonly path: string; readonly mode: string }
  | { readonly kind: 'watch-error'; readonly path: string; readonly reason: string };

export interface StateBackend {
  /** Human-readable location: a file path, or a redacted URL (no password). */
  readonly location: string;
  /** Current state from storage. Never throws for a corrupt file: it is moved aside and a fresh state returned. */
  read(): Promise<State>;
  /**
   * Read-modify-write under the lock: `mutate` gets the state as it is on disk *now* and changes it
   * in place; the result is written atomically and returned. Apply deltas (e.g. `request_count += n`)
   * rather than copying whole objects, so concurrent writers' changes merge.
   */
  update(mutate: (state: State) => void): Promise<State>;
  /** Call `onChange` (within ~1 s) whenever another process changes the state. Returns an unsubscribe. */
  watch(onChange: (state: State) => void): () => void;
  close(): Promise<void>;
}
