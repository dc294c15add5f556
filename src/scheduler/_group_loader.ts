/**
 * Loads the states of a `JobGroup`'s new jobs, a bounded number at a time:
 * ten thousand jobs scheduled in one go then hold a few hundred loads in
 * flight rather than ten thousand promise chains at once (docs/jobs.md,
 * "How a group sleeps").
 *
 * Runtime-neutral.
 *
 * @module
 */

/** How many loads run at once: enough to keep a remote store busy. */
export const LOADS_IN_FLIGHT = 256;

/** Something whose state is loaded; its `load()` never rejects. */
export interface Loadable {
  load(): Promise<void>;
}

/** A queue of loads worked off by at most `LOADS_IN_FLIGHT` workers. */
export class GroupLoader {
  #queue: (Loadable | undefined)[] = [];
  #head = 0;
  #workers = 0;
  #drained: Promise<void> | undefined;
  #resolve: (() => void) | undefined;

  /** Queues a load; it starts at once while fewer are in flight. */
  add(item: Loadable): void {
    this.#queue.push(item);
    if (this.#workers < LOADS_IN_FLIGHT) void this.#work();
  }

  /** Settles once every load queued so far is done. */
  drained(): Promise<void> {
    if (this.#workers === 0) return Promise.resolve();
    return this.#drained ??= new Promise((resolve) => this.#resolve = resolve);
  }

  async #work(): Promise<void> {
    this.#workers++;
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const item = queue[this.#head]!;
      queue[this.#head++] = undefined;
      await item.load();
    }
    if (--this.#workers > 0) return;
    this.#queue = [];
    this.#head = 0;
    const resolve = this.#resolve;
    this.#drained = this.#resolve = undefined;
    resolve?.();
  }
}
