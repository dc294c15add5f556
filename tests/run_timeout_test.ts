/**
 * Run timeout (in memory, fake time): the signal's TimeoutError,
 * the `timed-out` record once the task settles, the lease held until then.
 */
import assert from "node:assert/strict";
import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { delay, ofType, recordEvents, settle, T0 } from "./_engine_helpers.ts";
import { SlotGuard } from "./_slot_guard.ts";

/** Waits for the signal, then takes `afterMs` more before resolving. */
function heedsSignal(afterMs: number, seen: unknown[]) {
  return Task.fromAsync(async ({ signal }) => {
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true })
    );
    seen.push(signal.reason);
    await delay(afterMs);
  });
}

Deno.test("timeout: the signal aborts with a TimeoutError at the limit; the run is timed-out once the task settles", async () => {
  await withFakeClock(T0, async (clock) => {
    const reasons: unknown[] = [];
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const timedOutAt: number[] = [];
    scheduler.addEventListener("run-timed-out", () => {
      timedOutAt.push(Date.now());
    });
    const job = Job.withoutDeps(
      "timeout",
      Schedule.atTimes([T0 + 1_000]),
      heedsSignal(30, reasons),
    ).withRunTimeout(100);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(reasons.length, 1);
    assert.ok(reasons[0] instanceof DOMException);
    assert.equal((reasons[0] as DOMException).name, "TimeoutError");
    assert.deepEqual(timedOutAt, [T0 + 1_100]);
    const [record] = report.history;
    assert.equal(record.status, "timed-out");
    assert.equal(record.error, "timed out after 100 ms");
    assert.equal(record.startedAt.getTime(), T0 + 1_000);
    assert.equal(record.finishedAt.getTime(), T0 + 1_130);
    assert.equal(report.state.lastError, "timed out after 100 ms");
    assert.equal(report.state.lastSuccessAt, null);
    const [event] = ofType(events, "run-timed-out");
    assert.deepEqual(event, {
      type: "run-timed-out",
      jobId: "timeout",
      scheduledAt: new Date(T0 + 1_000),
      catchUp: false,
      triggerCount: 1,
      attempt: 1,
      timeoutMs: 100,
    });
    assert.equal(ofType(events, "run-completed")[0].status, "timed-out");
  });
});

Deno.test("timeout: a task that ignores its signal keeps running and keeps its lease until it settles", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new SlotGuard({ renewIntervalMs: 100 });
    const scheduler = new Scheduler({}, new InMemoryStateStore(), { guard });
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps(
      "stubborn",
      Schedule.atTimes([T0 + 1_000]),
      Task.fromAsync(() => delay(500)), // never looks at its signal
    ).withRunTimeout(150);
    const report = await settle(clock, scheduler.run(job));
    const timedOut = events.findIndex((e) => e.type === "run-timed-out");
    const completed = events.findIndex((e) => e.type === "run-completed");
    assert.ok(timedOut !== -1 && timedOut < completed);
    assert.equal(report.history[0].status, "timed-out");
    assert.equal(report.history[0].finishedAt.getTime(), T0 + 1_500);
    // Released once, only after the task settled; renewed all along.
    assert.deepEqual(guard.ofOp("release").map((c) => c.at), [T0 + 1_500]);
    assert.deepEqual(
      guard.ofOp("renew").map((c) => c.at),
      [T0 + 1_100, T0 + 1_200, T0 + 1_300, T0 + 1_400],
    );
  });
});

Deno.test("timeout: a cancel before the limit makes the run cancelled, not timed-out", async () => {
  await withFakeClock(T0, async (clock) => {
    const reasons: unknown[] = [];
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps(
      "cancelled",
      Schedule.atTimes([T0 + 100]),
      Task.fromAsync(async ({ signal }) => {
        await delay(50);
        scheduler.handle().cancel();
        await delay(500);
        reasons.push(signal.reason);
        signal.throwIfAborted();
      }),
    ).withRunTimeout(200);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.history[0].status, "cancelled");
    assert.equal((reasons[0] as DOMException).name, "AbortError");
    assert.equal(ofType(events, "run-timed-out").length, 0);
  });
});
