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
    (res as WatchedResponse)[CANCELLATION] = cancel;
    res.on('close', onResponseClose); // one shared listener: no closure per request
    return cancel;
  }

  /** The response was handed over completely: tell the target, if it wants to know. */
  finished(): void {
    const target = this.target;
    this.target = null;
    target?.completed?.();
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

const CANCELLATION = Symbol('kmi.cancellation');
type WatchedResponse = ServerResponse & { [CANCELLATION]?: Cancellation };

function onResponseClose(this: WatchedResponse): void {
  const cancel = this[CANCELLATION];
  if (cancel === undefined) return;
  this[CANCELLATION] = undefined;
  // Finished: the response was handed over. Closed before that: the client went away.
  if (this.writableFinished) cancel.finished();
  else cancel.abort();
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
