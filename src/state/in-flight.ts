// InFlight: the operations a state store has started and not finished, so close() can wait for them.

export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  /** Remember `promise` until it settles; returns it unchanged. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const forget = (): void => {
      this.pending.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }

  /** Resolves once every operation tracked so far has settled (failures included). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
