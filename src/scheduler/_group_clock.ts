/**
 * The one wake-up timer of a `JobGroup`: a binary heap of the instants its
 * sleeping jobs are next due at, and a single (chunked) timer for the
 * earliest. A sleeping job has no timer of its own; the group wakes it a
 * little before it is due and its engine takes over from there
 * (docs/jobs.md, "How a group sleeps").
 *
 * Runtime-neutral.
 *
 * @module
 */

import { armWake } from "../schedule/sleep.ts";

/** What the clock holds: an instant and what to do at it. */
export interface ClockEntry {
  /** When to wake (ms since the epoch). */
  at: number;
  /** The entry's place in the heap; -1 when not in it. */
  slot: number;
  /** Called from the timer's callback once `at` has come. */
  wake(): void;
}

/** One timer for many instants, the earliest first. */
export class GroupClock {
  readonly #heap: ClockEntry[] = [];
  #cancel: (() => void) | undefined;
  #armedFor: number | undefined;
  #closed = false;

  /** How many entries sleep on the clock. */
  get size(): number {
    return this.#heap.length;
  }

  /**
   * Adds an entry (with its `at` set) without re-arming the timer; call
   * `arm()` after a batch.
   */
  push(entry: ClockEntry): void {
    const heap = this.#heap;
    entry.slot = heap.length;
    heap.push(entry);
    this.#up(entry.slot);
  }

  /** Takes an entry off the clock (it will not be woken). */
  remove(entry: ClockEntry): void {
    const slot = entry.slot;
    if (slot < 0) return;
    const heap = this.#heap;
    const last = heap.pop()!;
    entry.slot = -1;
    if (last !== entry) {
      heap[slot] = last;
      last.slot = slot;
      this.#down(slot);
      this.#up(last.slot);
    }
  }

  /**
   * Keeps a timer pending from now until `arm()` replaces it, so that a fake
   * clock's `runAllAsync()` does not find an empty timer queue while the
   * group is still loading its jobs' states (as an engine does at start).
   */
  hold(): void {
    if (this.#closed || this.#cancel !== undefined) return;
    this.#set(Date.now());
  }

  /** Arms the one timer for the earliest entry (none when empty). */
  arm(): void {
    const first = this.#heap[0];
    if (this.#closed || first === undefined) {
      this.#disarm();
      return;
    }
    if (this.#cancel !== undefined && this.#armedFor === first.at) return;
    this.#set(first.at);
  }

  /** Cancels the timer for good and forgets every entry. */
  close(): void {
    this.#closed = true;
    this.#disarm();
    for (const entry of this.#heap) entry.slot = -1;
    this.#heap.length = 0;
  }

  #set(at: number): void {
    this.#disarm();
    this.#armedFor = at;
    this.#cancel = armWake(at, () => this.#fired());
  }

  #disarm(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#armedFor = undefined;
  }

  /** Wakes every entry that is due, then arms for the next one. */
  #fired(): void {
    this.#cancel = undefined;
    this.#armedFor = undefined;
    const now = Date.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0].at <= now) {
      const entry = heap[0];
      this.remove(entry);
      entry.wake();
    }
    this.arm();
  }

  #up(slot: number): void {
    const heap = this.#heap;
    const entry = heap[slot];
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      if (heap[parent].at <= entry.at) break;
      heap[slot] = heap[parent];
      heap[slot].slot = slot;
      slot = parent;
    }
    heap[slot] = entry;
    entry.slot = slot;
  }

  #down(slot: number): void {
    const heap = this.#heap;
    const entry = heap[slot];
    const half = heap.length >> 1;
    while (slot < half) {
      let child = 2 * slot + 1;
      const right = child + 1;
      if (right < heap.length && heap[right].at < heap[child].at) {
        child = right;
      }
      if (heap[child].at >= entry.at) break;
      heap[slot] = heap[child];
      heap[slot].slot = slot;
      slot = child;
    }
    heap[slot] = entry;
    entry.slot = slot;
  }
}
