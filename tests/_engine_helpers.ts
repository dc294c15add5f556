/**
 * Shared fixtures for engine tests: a fake-clock driver that never hangs,
 * event recording, and time helpers.
 */
import type { FakeClock } from "./_fake_time.ts";
import type { Scheduler, SchedulerEvent } from "../mod.ts";
import { SCHEDULER_EVENT_TYPES } from "../src/scheduler/events/events.ts";

/** The real setTimeout, captured before any fake clock is installed. */
const realSetTimeout = globalThis.setTimeout;

/** Lets real I/O (Deno KV, sockets) progress for a moment of real time. */
function realPause(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** A fixed start instant for fake-clock tests: 2026-04-03T01:02:03Z. */
export const T0 = Date.UTC(2026, 3, 3, 1, 2, 3);

/**
 * Drives the fake clock timer by timer until `promise` settles. When no fake
 * timer is pending it gives real I/O (Deno KV, sockets) up to `ioGraceMs` of
 * real time; after that it fails rather than hanging.
 */
export async function settle<T>(
  clock: FakeClock,
  promise: Promise<T>,
  maxSteps = 1_000_000,
  ioGraceMs = 2_000,
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
      for (let waited = 0; !done && clock.countTimers() === 0; waited += 2) {
        if (waited >= ioGraceMs) {
          throw new Error(
            "hang: no timer is pending and the promise has not settled",
          );
        }
        await realPause(2);
        await clock.tickAsync(0);
      }
      continue;
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

/** The events of one type, typed. */
export function ofType<T extends SchedulerEvent["type"]>(
  events: SchedulerEvent[],
  type: T,
): Extract<SchedulerEvent, { type: T }>[] {
  return events.filter((event) => event.type === type) as Extract<
    SchedulerEvent,
    { type: T }
  >[];
}

/** Resolves once the scheduler has loaded its state (its run() can be triggered). */
export function stateLoaded(scheduler: Scheduler): Promise<void> {
  return new Promise((resolve) =>
    scheduler.addEventListener("state-loaded", () => resolve(), { once: true })
  );
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
