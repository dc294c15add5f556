/**
 * The engine's timer and its notion of "now".
 *
 * Real runtimes and `@sinonjs/fake-timers` run promise callbacks between two
 * timers, so the engine can decide at each wake-up with `Date.now()`.
 * `@std/testing/time`'s `FakeTime` (and sinon's synchronous `tick`) instead
 * fire every due timer of an advance in one synchronous pass, with
 * `Date.now()` at each timer's due time and no promise callback in between:
 * the engine's loop only runs after the pass, at the end of the advance.
 *
 * So the timer re-arms itself for the predicted next occurrence from inside
 * its own callback (a fake clock reaches that timer in the same pass), and it
 * records the instant of each firing. Firings that happened in one
 * synchronous pass ("a burst", which no real event loop produces) are handed
 * to the loop as logical instants: it takes one decision at each of them, in
 * order, as it would have between real timers. A single firing is an
 * ordinary wake-up: the loop decides with the wall clock, so a loop that was
 * busy when its timer fired still sees how late it is. The predicted timer
 * stays armed for it: the loop arms the same instant after deciding
 * (`armFor` keeps it), so a steady firing costs one timer and clears none
 * (docs/testing.md, "What a firing costs"). Only when nothing is predicted
 * does a zero-delay placeholder keep a timer pending (see `#hold`).
 *
 * @module
 */

import { armWake } from "../../schedule/sleep.ts";

/** What the clock needs from the engine. */
export interface WakeClockHost {
  /**
   * Called from the timer callback with its instant: the next instant to
   * wake at, if the decision at `firedAt` will leave one in the future.
   */
  predictNext(firedAt: number): number | null;
  /** Wakes the engine's loop. */
  wake(): void;
}

/** One chunked wake-up timer plus the instants it fired at. */
export class WakeClock {
  readonly #host: WakeClockHost;
  #cancel: (() => void) | undefined;
  #target: number | undefined;
  /** Firings since the last microtask checkpoint. */
  readonly #fresh: number[] = [];
  #sealQueued = false;
  /** The pending timer was armed by a firing, not by the loop. */
  #predicted = false;
  /** Burst instants not yet decided at, oldest first. */
  readonly #burst: number[] = [];

  constructor(host: WakeClockHost) {
    this.#host = host;
  }

  /** Whether burst instants are waiting for a decision. */
  get lagging(): boolean {
    return this.#burst.length > 0;
  }

  /** Sleeps until `target`, keeping a timer already armed for it. */
  armFor(target: number): void {
    this.#predicted = false;
    if (this.#cancel !== undefined && this.#target === target) return;
    this.disarm();
    this.#target = target;
    this.#cancel = armWake(target, () => this.#fired());
  }

  /** Cancels the pending timer, if any. */
  disarm(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#target = undefined;
  }

  /**
   * The instant of the next decision: the oldest burst instant, or the wall
   * clock when there is none.
   */
  takeNow(): number {
    // Checked first: shifting an empty array costs as much as a decision's
    // bookkeeping on the replay path (bench/engine_figures.ts).
    return this.#burst.length > 0 ? this.#burst.shift()! : Date.now();
  }

  /** Forgets burst instants no decision can use (while paused). */
  dropBurst(): void {
    if (this.#burst.length > 0) this.#burst.length = 0;
  }

  /** `#seal`, bound once rather than a closure per firing. */
  readonly #sealLater = () => this.#seal();

  #fired(): void {
    const firedAt = Date.now();
    this.#cancel = undefined;
    this.#target = undefined;
    this.#fresh.push(firedAt);
    if (!this.#sealQueued) {
      this.#sealQueued = true;
      queueMicrotask(this.#sealLater);
    }
    const next = this.#host.predictNext(firedAt);
    if (next !== null) this.armFor(next);
    // Also with no next instant: the hold keeps a timer pending until the
    // loop has started this firing's run, whose own timers then keep a fake
    // clock's `runAllAsync()` going.
    this.#predicted = true;
    this.#host.wake();
  }

  /**
   * Arms a no-op timer due now, which the loop's next `armFor` replaces, when
   * a firing predicted no next instant (the last occurrence, or a backlog
   * due at once): the timer queue is never empty for a moment, which would
   * end a fake clock's `runAllAsync()` before the loop has started this
   * firing's run or armed its next wake-up.
   */
  #hold(): void {
    this.disarm();
    const timer = setTimeout(() => {
      this.#cancel = undefined;
    }, 0);
    this.#cancel = () => clearTimeout(timer);
    this.#target = Number.NaN; // equal to no target: armFor replaces it
  }

  /**
   * Runs at the first microtask checkpoint after a firing. Firings are a
   * burst when the clock moved on before that checkpoint: several fired, or
   * one fired and time went on (a fake clock's pass that also fired the
   * hourly chunks of a long sleep, or other code's timers). A real event loop
   * reaches the checkpoint right after the callback.
   */
  #seal(): void {
    this.#sealQueued = false;
    const last = this.#fresh[this.#fresh.length - 1];
    if (
      this.#fresh.length > 1 || this.#burst.length > 0 ||
      Date.now() - last > 1
    ) {
      this.#burst.push(...this.#fresh);
    } else if (this.#predicted && this.#cancel === undefined) {
      // A predicted timer (`#cancel` set) is kept as it is: the loop, once
      // it has decided, arms the same instant, and a fake clock stepping
      // timer by timer gives it a real turn of the event loop first.
      this.#hold();
    }
    this.#predicted = false;
    this.#fresh.length = 0; // reused: one firing each time on the steady path
  }
}

/**
 * The runtime's own `setTimeout`, taken when this module loads: before a test
 * installs a fake clock (static imports load first), which leaves it real.
 */
const platformSetTimeout = globalThis.setTimeout;

/**
 * Resolves on a later turn of the event loop (a macrotask), after every
 * pending promise callback has run, under fake clocks too (the timer is the
 * runtime's own). A `MessageChannel` message is no such boundary in Deno:
 * it can arrive after only a few promise callbacks of a longer chain.
 */
export function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => platformSetTimeout(resolve, 0));
}
