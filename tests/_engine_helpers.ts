/**
 * Shared fixtures for engine tests: a fake-clock driver that never hangs,
 * event recording, and time helpers.
 */
import type { FakeClock } from "./_fake_time.ts";
import type { Scheduler, SchedulerEvent } from "../mod.ts";
import { SCHEDULER_EVENT_TYPES } from "../src/scheduler/events.ts";

/** A fixed start instant for fake-clock tests: 2026-04-03T01:02:03Z. */
export const T0 = Date.UTC(2026, 3, 3, 1, 2, 3);

/**
 * Drives the fake clock timer by timer until `promise` settles. Fails (rather
 * than hanging) when no timer is pending and the promise is still open.
 */
export async function settle<T>(
  clock: FakeClock,
  promise: Promise<T>,
  maxSteps = 1_000_000,
): Promise<T> {
  let done = false;
  const observed = promise.finally(() => (done = true));
  observed.catch(() => {});
  await clock.tickAsync(0);
  for (let step = 0; !done; step++) {
    if (step >= maxSteps) {
      throw new Error(`not settled after ${maxSteps} timers`);
    }
    if (clock.countTimers() === 0) {
      await clock.tickAsync(0);
      if (done) break;
      throw new Error(
        "hang: no timer is pending and the promise has not settled",
      );
    }
    await clock.nextAsync();
  }
  return await promise;
}

/** Records every event the scheduler dispatches, in order. */
export function recordEvents(scheduler: Scheduler): SchedulerEvent[] {
  const events: SchedulerEvent[] = [];
  for (const type of SCHEDULER_EVENT_TYPES) {
    scheduler.addEventListener(type, (event) => events.push(event.detail));
  }
  return events;
}

/** A promise that resolves after `ms` on the (possibly fake) clock. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counts concurrently running invocations. */
export class Concurrency {
  current = 0;
  peak = 0;
  invocations = 0;
  async around<T>(body: () => Promise<T>): Promise<T> {
    this.invocations++;
    this.current++;
    this.peak = Math.max(this.peak, this.current);
    try {
      return await body();
    } finally {
      this.current--;
    }
  }
}
