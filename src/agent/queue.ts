/**
 * Runs tasks one at a time per key, keys in parallel: a user's messages are handled strictly in arrival
 * order while other users are not held up. Rejections are delivered to the caller of that task only; the
 * queue of the key keeps going.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /**
   * Schedules `task` after every task already queued for `key`.
   *
   * @returns the task's result (or its rejection)
   */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Number of keys with queued or running work. */
  get activeKeys(): number {
    return this.tails.size;
  }

  /** Resolves when every task queued so far has settled. */
  async idle(): Promise<void> {
    while (this.tails.size) await Promise.all([...this.tails.values()]);
  }
}
