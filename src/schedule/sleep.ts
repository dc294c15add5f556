/**
 * A sleep that cannot misfire.
 *
 * Runtime-neutral; reads `Date.now()` and calls `setTimeout` at call time so
 * that fake clocks which replace those globals drive it.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";

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
 * Arms timers of at most an hour each until the wall clock reaches `target`,
 * then calls `onFire` from inside that last timer's callback.
 *
 * Calling `onFire` synchronously (rather than through a promise) matters for
 * fake clocks such as `@std/testing/time`'s `FakeTime`, which fire every due
 * timer of an advance in one synchronous pass: a callback that arms its next
 * timer at once is still reached in the same advance, at its own instant.
 *
 * @returns A function that cancels the pending timer (idempotent).
 */
export function armWake(target: number, onFire: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    const remaining = target - Date.now();
    if (remaining <= 0) {
      timer = undefined;
      onFire();
      return;
    }
    timer = setTimeout(check, Math.min(remaining, MAX_TIMER_MS));
  };
  // A past instant still waits for one timer turn, so callers in a loop
  // always yield to the event loop.
  timer = setTimeout(
    check,
    Math.max(0, Math.min(target - Date.now(), MAX_TIMER_MS)),
  );
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
}

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
 * reason. An invalid `instant` (not a `Date` or a finite number) or `signal`
 * rejects it with an `InvalidJobError` kind `other`.
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
  // Infinity is refused too: it would sleep in one-hour chunks forever.
  if (typeof target !== "number" || !Number.isFinite(target)) {
    return Promise.reject(
      new InvalidJobError(
        `sleepUntil needs a valid instant (a Date or finite epoch milliseconds), got ${
          describeValue(instant)
        }`,
        { kind: InvalidJobKind.Other },
      ),
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    return Promise.reject(
      new InvalidJobError(
        `sleepUntil signal must be an AbortSignal, got ${
          describeValue(signal)
        }`,
        { kind: InvalidJobKind.Other },
      ),
    );
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = armWake(target, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
