/**
 * A sleep that cannot misfire.
 *
 * Runtime-neutral; reads `Date.now()` and calls `setTimeout` at call time so
 * that fake clocks which replace those globals drive it.
 *
 * @module
 */

import { describeValue } from "../errors.ts";

/**
 * The longest single timer ever armed: one hour.
 *
 * @example
 * ```ts
 * import { MAX_TIMER_MS } from "@cloudiful/scheduler";
 * // A 400-day wait is a chain of timers, none longer than this.
 * console.log(Math.ceil((400 * 86_400_000) / MAX_TIMER_MS)); // 9600
 * ```
 */
export const MAX_TIMER_MS = 3_600_000;

/**
 * Resolves once the wall clock reaches `instant`.
 *
 * No timer longer than one hour is ever armed (delays above 2^31−1 ms would
 * fire at once); on each wake-up the wall clock is read again, so a clock
 * jump is noticed within the hour instead of being slept through. An aborted
 * `signal` rejects the promise at once with `signal.reason` and clears the
 * pending timer, so nothing is left behind.
 *
 * @param instant When to wake up, as a `Date` or epoch milliseconds. A past
 * instant resolves on the next turn of the event loop.
 * @param signal Aborts the sleep.
 * @returns A promise that resolves at `instant` or rejects with the signal's
 * reason.
 *
 * @example Wait until a deadline, or until aborted
 * ```ts
 * import { sleepUntil } from "@cloudiful/scheduler";
 * const controller = new AbortController();
 * await sleepUntil(Date.now() + 10, controller.signal);
 * ```
 */
export function sleepUntil(
  instant: Date | number,
  signal?: AbortSignal,
): Promise<void> {
  const target = instant instanceof Date ? instant.getTime() : instant;
  if (typeof target !== "number" || Number.isNaN(target)) {
    return Promise.reject(
      new TypeError(
        `sleepUntil needs a valid instant, got ${describeValue(instant)}`,
      ),
    );
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      if (timer !== undefined) clearTimeout(timer);
      reject(signal!.reason);
    };
    const arm = () => {
      const remaining = target - Date.now();
      if (remaining <= 0) {
        timer = undefined;
        signal?.removeEventListener("abort", onAbort);
        resolve();
        return;
      }
      timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    // A past instant still waits for one timer turn, so callers in a loop
    // always yield to the event loop.
    timer = setTimeout(
      arm,
      Math.max(0, Math.min(target - Date.now(), MAX_TIMER_MS)),
    );
  });
}
