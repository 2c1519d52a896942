// Cancellation: "the client went away", told to the one thing currently working for it (an upstream call, a relay or a backoff sleep).
import type { ServerResponse } from 'node:http';

/** What a request's current piece of work does when the client leaves, or when its response is done. */
export interface CancelTarget {
  cancelled(): void;
  completed?(): void;
}

/**
 * One per client request. Work happens one piece at a time (an attempt, a sleep, the relay), so a
 * single watched target is enough: no listener lists, no AbortController, nothing per chunk.
 */
export class Cancellation {
  aborted = false;
  private target: CancelTarget | null = null;

  /** Watch `res`: its close before the response finished means the client went away. */
  static forResponse(res: ServerResponse): Cancellation {
    const cancel = new Cancellation();
    res.on('close', () => {
      if (res.writableFinished) {
        const target = cancel.target;
        cancel.target = null;
        target?.completed?.();
      } else cancel.abort();
    });
    return cancel;
  }

  /** Make `target` the one to tell (at once, if the client already left). */
  watch(target: CancelTarget): void {
    this.target = target;
    if (this.aborted) {
      this.target = null;
      target.cancelled();
    }
  }

  /** Stop telling `target` (when it finished first). */
  release(target: CancelTarget): void {
    if (this.target === target) this.target = null;
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const target = this.target;
    this.target = null;
    target?.cancelled();
  }
}

/** A sleep that ends early (rejecting) when the client goes away. */
export function cancellableSleep(ms: number, cancel: Cancellation): Promise<void> {
  return new Promise((resolve, reject) => {
    const target: CancelTarget = {
      cancelled: () => {
        clearTimeout(timer);
        reject(new Error('cancelled'));
      },
    };
    const timer = setTimeout(() => {
      cancel.release(target);
      resolve();
    }, ms);
    cancel.watch(target);
  });
}
