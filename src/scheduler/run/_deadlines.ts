/**
 * The time limits of one engine's attempts on one timer. Arming and clearing
 * a timer per attempt costs about 1.4 µs on Deno, several times the rest of a
 * run's time limit; attempts of one job start in order and share one limit, so
 * their deadlines arrive in order too, and one timer at the earliest pending
 * deadline is enough. An attempt that ends just marks its deadline done; the
 * timer, when it fires, skips done deadlines and moves on to the next pending
 * one, or stops. The engine closes the watch when `run()` ends.
 *
 * @module
 */

import { armWake } from "../../schedule/sleep.ts";

/** One attempt's deadline; `settle` it when the attempt ends. */
export interface Deadline {
  readonly at: number;
  done: boolean;
  readonly onExpire: () => void;
}

/** Deadlines in order, watched by one timer. */
export class DeadlineWatch {
  /** Pending deadlines by `at` (equal ones in arrival order), from `#head`. */
  #queue: Deadline[] = [];
  #head = 0;
  #armedFor = Infinity;
  #disarm: (() => void) | undefined;

  /**
   * Calls `onExpire` at `at` unless the deadline is settled first. The
   * returned deadline is settled by {@linkcode DeadlineWatch.settle}.
   */
  watch(at: number, onExpire: () => void): Deadline {
    const deadline: Deadline = { at, done: false, onExpire };
    const queue = this.#queue;
    let index = queue.length;
    // Usually the latest: deadlines of one job arrive in order.
    while (index > this.#head && queue[index - 1].at > at) index--;
    if (index === queue.length) queue.push(deadline);
    else queue.splice(index, 0, deadline);
    if (at < this.#armedFor) this.#arm(at);
    return deadline;
  }

  /** The attempt ended: its deadline no longer matters. */
  settle(deadline: Deadline): void {
    deadline.done = true;
    this.#dropDone();
  }

  /** Stops the timer and forgets every deadline (`run()` ended). */
  close(): void {
    this.#disarm?.();
    this.#disarm = undefined;
    this.#armedFor = Infinity;
    this.#queue = [];
    this.#head = 0;
  }

  #arm(at: number): void {
    this.#disarm?.();
    this.#armedFor = at;
    this.#disarm = armWake(at, this.#fire);
  }

  readonly #fire = (): void => {
    this.#disarm = undefined;
    this.#armedFor = Infinity;
    const now = Date.now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const deadline = queue[this.#head];
      if (!deadline.done) {
        if (deadline.at > now) break;
        deadline.done = true;
        deadline.onExpire();
      }
      this.#head++;
    }
    this.#dropDone();
    if (this.#head < this.#queue.length && this.#disarm === undefined) {
      this.#arm(this.#queue[this.#head].at);
    }
  };

  #dropDone(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head].done) this.#head++;
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 64 && this.#head * 2 > queue.length) {
      queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
