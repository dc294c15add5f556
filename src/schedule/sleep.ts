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

/** The longest delay `setTimeout` takes as given (2^31 − 1 ms). */
const PLATFORM_TIMER_LIMIT_MS = 2_147_483_647;

/**
 * Chunks in a row that fired after their whole delay of wall-clock time but
 * almost none of monotonic time (`performance.now()`). A real timer waits
 * its delay on the monotonic clock, so this never happens under real time,
 * whatever the wall clock does; it happens under a fake clock that fakes
 * `Date` and `setTimeout` but not `performance` (std's `FakeTime`).
 */
let racing = 0;
/**
 * The `setTimeout` the count was made under: another one (a clock installed
 * or removed since) starts again from an hour.
 */
let racingUnder: unknown;

/**
 * The longest chunk to arm now: an hour, so that a real wall-clock jump is
 * noticed within the hour; doubling per chunk once two chunks in a row
 * showed a simulated clock (each timer costs such a clock a real turn of the
 * event loop: docs/testing.md), up to the platform's limit.
 */
function chunkLimit(): number {
  if (racing < 2 || racingUnder !== globalThis.setTimeout) return MAX_TIMER_MS;
  return Math.min(MAX_TIMER_MS * 2 ** (racing - 1), PLATFORM_TIMER_LIMIT_MS);
}

function monotonicNow(): number {
  return globalThis.performance?.now() ?? Number.NaN;
}

/** Timers shorter than this are too short to tell a simulated clock by. */
const OBSERVED_MIN_MS = 60_000;

/** Records whether a chunk of `delay` ms fired on a simulated clock. */
function observeChunk(delay: number, wallAt: number, monoAt: number): void {
  if (delay < OBSERVED_MIN_MS) return; // too short to tell
  const monotonic = monotonicNow() - monoAt;
  const simulated = Date.now() - wallAt >= delay && monotonic * 1_000 < delay;
  if (!simulated) racing = 0;
  else if (racingUnder !== globalThis.setTimeout) {
    racingUnder = globalThis.setTimeout;
    racing = 1;
  } else racing = Math.min(racing + 1, 32);
}

/**
 * Arms timers of at most an hour each until the wall clock reaches `target`,
 * then calls `onFire` from inside that last timer's callback. The wall clock
 * is read again at every timer, so nothing fires early and a jump forward is
 * noticed within the hour. Only when the timers themselves show a simulated
 * clock (see `racing`) do the chunks grow, to keep a long fake sleep cheap.
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
  const arm = (remaining: number) => {
    const delay = Math.max(0, Math.min(remaining, chunkLimit()));
    // Read only where observeChunk will use them: a wake-up timer is armed
    // on every firing, and the monotonic clock is a call into the runtime.
    const observed = delay >= OBSERVED_MIN_MS;
    const wallAt = observed ? Date.now() : 0;
    const monoAt = observed ? monotonicNow() : 0;
    timer = setTimeout(() => {
      observeChunk(delay, wallAt, monoAt);
      check();
    }, delay);
  };
  const check = () => {
    const remaining = target - Date.now();
    if (remaining <= 0) {
      timer = undefined;
      onFire();
      return;
    }
    arm(remaining);
  };
  // A past instant still waits for one timer turn, so callers in a loop
  // always yield to the event loop.
  arm(target - Date.now());
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
