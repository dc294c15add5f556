/**
 * `sleepUntil` fires on time however far away the instant is, follows
 * wall-clock jumps without firing early, and rejects on abort or invalid
 * input.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { InvalidJobError, MAX_TIMER_MS, sleepUntil } from "../mod.ts";
import { FakeTime } from "@std/testing/time";
import { withFakeClock } from "./_fake_time.ts";

const DAY = 86_400_000;

/** Asserts that `promise` rejects with an error `accepts` accepts. */
async function rejectsWith(
  promise: Promise<unknown>,
  accepts: (error: unknown) => boolean,
): Promise<void> {
  const error = await assertRejects(() => promise);
  assert(accepts(error), `unexpected rejection: ${error}`);
}

/** Records every delay passed to the (fake) global setTimeout. */
function spyOnSetTimeout(): { delays: number[]; restore(): void } {
  const original = globalThis.setTimeout;
  const delays: number[] = [];
  globalThis.setTimeout = ((handler: () => void, delay?: number) => {
    delays.push(delay ?? 0);
    return original(handler, delay);
  }) as typeof setTimeout;
  return { delays, restore: () => (globalThis.setTimeout = original) };
}

Deno.test("sleepUntil: a sleep due in 400 days fires once, on time, with no timer over an hour", async () => {
  await withFakeClock(Date.UTC(2026, 0, 1), async (clock) => {
    const spy = spyOnSetTimeout();
    try {
      const target = Date.now() + 400 * DAY;
      let firedAt: number | undefined;
      let fired = 0;
      sleepUntil(new Date(target)).then(() => {
        fired++;
        firedAt = Date.now();
      });
      await clock.tickAsync(400 * DAY - 1);
      assertEquals(fired, 0, "not before the instant");
      await clock.tickAsync(1);
      assertEquals(fired, 1);
      assertEquals(firedAt, target);
      await clock.tickAsync(10 * DAY);
      assertEquals(fired, 1, "fires once");
      assert(
        spy.delays.length >= 400 * 24,
        `chunked: ${spy.delays.length} timers`,
      );
      assert(
        spy.delays.every((delay) => delay <= MAX_TIMER_MS),
        `largest timer ${Math.max(...spy.delays)} ms`,
      );
      assertEquals(clock.countTimers(), 0, "no timer left behind");
    } finally {
      spy.restore();
    }
  }, { monotonic: true });
});

Deno.test("sleepUntil: a forward wall-clock jump is noticed at the next wake-up", async () => {
  await withFakeClock(0, async (clock) => {
    let fired = false;
    sleepUntil(10 * DAY).then(() => (fired = true));
    clock.setSystemTime(10 * DAY + 5); // jump, no timers run
    await clock.tickAsync(MAX_TIMER_MS);
    assert(fired, "woke within an hour of the jump");
  }, { monotonic: true });
});

Deno.test("sleepUntil: under std's FakeTime (the monotonic clock stands still) a 400-day sleep takes few timers and still fires at its instant", async () => {
  const start = Date.UTC(2026, 0, 1);
  const target = start + 400 * DAY;
  using time = new FakeTime(start);
  let firedAt: number | undefined;
  sleepUntil(target).then(() => (firedAt = Date.now()));
  let timers = 0;
  while (firedAt === undefined && await time.nextAsync()) {
    timers++;
    await time.runMicrotasks();
    assert(firedAt === undefined || Date.now() >= target, "never early");
  }
  assertEquals(firedAt, target);
  // An hour each would be 9 600; doubling after two reaches the platform's
  // ~24.8-day limit within a dozen.
  assert(timers <= 40, `${timers} timers`);
  assertEquals(time.next(), false, "no timer left behind");
});

Deno.test("sleepUntil: a backward wall-clock jump makes it sleep longer, not fire early", async () => {
  await withFakeClock(DAY, async (clock) => {
    let fired = false;
    sleepUntil(DAY + 2 * 3_600_000).then(() => (fired = true));
    await clock.tickAsync(3_600_000);
    clock.setSystemTime(DAY); // back an hour
    await clock.tickAsync(3_600_000);
    assertEquals(fired, false);
    await clock.tickAsync(3_600_000);
    assertEquals(fired, true);
  });
});

Deno.test("sleepUntil: abort rejects with the signal's reason and clears the timer", async () => {
  await withFakeClock(0, async (clock) => {
    const controller = new AbortController();
    const sleeping = sleepUntil(DAY, controller.signal);
    await clock.tickAsync(1000);
    assertEquals(clock.countTimers(), 1);
    const reason = new Error("stop");
    controller.abort(reason);
    await rejectsWith(sleeping, (error) => error === reason);
    assertEquals(clock.countTimers(), 0);
  });
});

Deno.test("sleepUntil: an already aborted signal rejects at once without a timer", async () => {
  await withFakeClock(0, async (clock) => {
    const controller = new AbortController();
    controller.abort();
    await rejectsWith(
      sleepUntil(DAY, controller.signal),
      (error: unknown) =>
        error instanceof DOMException && error.name === "AbortError",
    );
    assertEquals(clock.countTimers(), 0);
  });
});

Deno.test("sleepUntil: a past instant resolves on the next timer turn", async () => {
  await withFakeClock(5000, async (clock) => {
    let fired = false;
    sleepUntil(1000).then(() => (fired = true));
    await Promise.resolve();
    assertEquals(fired, false, "yields to the event loop first");
    await clock.tickAsync(0);
    assertEquals(fired, true);
  });
});

Deno.test("sleepUntil: an invalid instant or signal rejects with an InvalidJobError naming it", async () => {
  const invalid = (pattern: RegExp) => (error: unknown) =>
    error instanceof InvalidJobError && error.kind === "other" &&
    pattern.test(error.message);
  await rejectsWith(
    sleepUntil(Number.NaN),
    invalid(/valid instant.*got NaN/),
  );
  await rejectsWith(sleepUntil(new Date("nope")), invalid(/valid instant/));
  await rejectsWith(
    sleepUntil("2026-01-01" as unknown as number),
    invalid(/got "2026-01-01"/),
  );
  // Infinity would sleep in one-hour chunks forever.
  await rejectsWith(sleepUntil(Infinity), invalid(/got Infinity/));
  await rejectsWith(
    sleepUntil(0, { aborted: false } as unknown as AbortSignal),
    invalid(/signal must be an AbortSignal/),
  );
});

Deno.test("sleepUntil: works with the real clock (short, tolerant)", async () => {
  const start = Date.now();
  await sleepUntil(start + 20);
  assert(Date.now() >= start + 20);
});
