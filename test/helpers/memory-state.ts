// An in-memory StateBackend for tests: update() merges under a promise chain, watch() reports every change.
import type { StateBackend } from '../../src/state/backend.js';
import { emptyState, type State } from '../../src/state/schema.js';

export class MemoryStateStore implements StateBackend {
  readonly location = 'memory';
  private state: State;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly watchers = new Set<(state: State) => void>();
  /** Number of update() calls that completed. */
  writes = 0;
  /** Make the next update() calls fail (to test retrying flushes). */
  failNext = 0;

  constructor(initial: State = emptyState()) {
    this.state = structuredClone(initial);
  }

  async read(): Promise<State> {
    return structuredClone(this.state);
  }

  update(mutate: (state: State) => void): Promise<State> {
    const run = this.chain.then(async () => {
      await new Promise((r) => setImmediate(r));
      if (this.failNext > 0) {
        this.failNext--;
        throw new Error('simulated write failure');
      }
      const next = structuredClone(this.state);
      mutate(next);
      this.state = next;
      this.writes++;
      const copy = structuredClone(next);
      setImmediate(() => {
        for (const w of this.watchers) w(structuredClone(copy));
      });
      return copy;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  watch(onChange: (state: State) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }

  /** The state as stored now (no copy: do not change it). */
  peek(): State {
    return this.state;
  }

  async close(): Promise<void> {
    this.watchers.clear();
  }
}
