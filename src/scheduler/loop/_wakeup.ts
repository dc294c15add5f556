/**
 * A promise-based "something changed" flag for the engine's loop.
 *
 * @module
 */

/** Wakes one waiter; a notify with nobody waiting is kept, never lost. */
export class Wakeup {
  #resolve: (() => void) | undefined;
  #pending = false;
  #notifications = 0;

  /**
   * Whether the loop is parked: waiting, with no notify since it began. A
   * notify clears it at once, before the waiter's promise callback runs.
   */
  get parked(): boolean {
    return this.#resolve !== undefined;
  }

  /** How many notifies there have been (to tell that nothing happened). */
  get notifications(): number {
    return this.#notifications;
  }

  /** Wakes the waiter, or the next one to wait. */
  notify(): void {
    this.#notifications++;
    const resolve = this.#resolve;
    if (resolve === undefined) {
      this.#pending = true;
      return;
    }
    this.#resolve = undefined;
    resolve();
  }

  /** Resolves at the next notify (at once if one is pending). */
  wait(): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.#resolve = resolve));
  }
}
