/**
 * How a retry waits for its next attempt: the backoff, then, when the
 * scheduler is paused as the backoff ends, until `resume()`
 * (docs/run_controls.md, "Retries"). A stop ends either wait at once.
 *
 * @module
 */

import { sleepUntil } from "../../schedule/sleep.ts";

/** Why a wait was cut short (without a reason, abort builds a DOMException). */
const INTERRUPTED = Symbol("retry wait interrupted");

/**
 * The waits between one run's attempts. Created with the run's first
 * backoff: most runs never retry, and an AbortController is a sizeable part
 * of a run's cost.
 *
 * @example
 * ```ts ignore
 * const wait = new RetryWait();
 * if (!await wait.wait(Date.now() + 1000, () => control.paused)) return;
 * ```
 */
export class RetryWait {
  readonly #interrupt = new AbortController();
  #resume: (() => void) | undefined;

  /** Ends the wait in progress, and any later one: the scheduler stops. */
  interrupt(): void {
    this.#interrupt.abort(INTERRUPTED);
  }

  /** The scheduler resumed: a retry waiting for it goes on. */
  resumed(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  /**
   * Sleeps until `until`, then waits while `paused()`. Resolves `true` when
   * the next attempt may start, `false` when a stop interrupted the wait.
   */
  async wait(until: number, paused: () => boolean): Promise<boolean> {
    const { signal } = this.#interrupt;
    try {
      await sleepUntil(until, signal);
    } catch {
      return false;
    }
    // A loop, not an `if`: a pause again right after a resume holds it too.
    while (paused()) {
      if (!await this.#untilResumed(signal)) return false;
    }
    return true;
  }

  /** Resolves `true` at the next `resumed()`, `false` when interrupted. */
  #untilResumed(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => {
        this.#resume = undefined;
        resolve(false);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#resume = () => {
        signal.removeEventListener("abort", onAbort);
        resolve(true);
      };
    });
  }
}
