// Cancellation: a one-shot "the client went away" flag with listeners — lighter than AbortController on the hot path.

export class Cancellation {
  aborted = false;
  private listeners: (() => void)[] | null = null;

  /** Run `listener` on abort (at once if already aborted). Returns a function that removes it. */
  onAbort(listener: () => void): () => void {
    if (this.aborted) {
      listener();
      return noop;
    }
    (this.listeners ??= []).push(listener);
    return () => {
      const list = this.listeners;
      if (list === null) return;
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const list = this.listeners;
    this.listeners = null;
    if (list !== null) for (const l of list) l();
  }
}

function noop(): void {}

/** A sleep that ends early (rejecting) when `cancel` aborts. */
export function cancellableSleep(ms: number, cancel: Cancellation): Promise<void> {
  return new Promise((resolve, reject) => {
    let off = noop;
    const timer = setTimeout(() => {
      off();
      resolve();
    }, ms);
    off = cancel.onAbort(() => {
      clearTimeout(timer);
      reject(new Error('cancelled'));
    });
  });
}
