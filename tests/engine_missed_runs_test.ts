/** Occurrences missed while paused or asleep, handled by the missed-run policy. */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  Job,
  MissedRunPolicy,
  OverlapPolicy,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { delay, recordEvents, settle } from "./_engine_helpers.ts";

const HOUR = 3_600_000;
const MINUTE = 60_000;
const TEN_AM = Date.UTC(2026, 5, 1, 10, 0, 0);

function skippedOf(events: SchedulerEvent[]) {
  return events.flatMap((e) =>
    e.type === "run-skipped"
      ? [{ count: e.count, reason: e.reason, at: e.scheduledAt.getTime() }]
      : []
  );
}

/**
 * A laptop that sleeps for 8 hours: timers are suspended, and when the
 * pending timer fires the wall clock has jumped. With `* * * * *` starting at
 * 10:00, 480 minutes (10:01 … 18:00) are due at wake-up.
 */
async function laptopSleep(policy: MissedRunPolicy) {
  return await withFakeClock(TEN_AM, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const handle = scheduler.handle();
    const seen: number[] = [];
    const job = Job.withoutDeps(
      "laptop",
      Schedule.cron("* * * * *"),
      Task.fromSync(({ run }) => {
        seen.push(run.scheduledAt.getTime());
      }),
    ).withMissedRunPolicy(policy);
    const running = scheduler.run(job);
    await clock.tickAsync(0);
    clock.setSystemTime(TEN_AM + 8 * HOUR - MINUTE); // the sleep
    await clock.nextAsync(); // the suspended timer fires at 18:00:00
    assert.equal(Date.now(), TEN_AM + 8 * HOUR);
    await clock.tickAsync(0);
    // Let a replay backlog drain, then stop before 18:01.
    for (
      let i = 0;
      i < 600 && seen.length < 480 && policy === "replay-all";
      i++
    ) {
      await clock.tickAsync(0);
    }
    handle.shutdown();
    const report = await settle(clock, running);
    return { report, events, seen };
  });
}

Deno.test("laptop sleep, catch-up-once: one run for 18:00 and one run-skipped of 479", async () => {
  const { report, events, seen } = await laptopSleep(
    MissedRunPolicy.CatchUpOnce,
  );
  assert.deepEqual(seen, [TEN_AM + 8 * HOUR]);
  assert.equal(report.history[0].catchUp, true);
  assert.deepEqual(skippedOf(events), [
    { count: 479, reason: "missed", at: TEN_AM + 8 * HOUR - MINUTE },
  ]);
  assert.equal(report.state.triggerCount, 480);
  assert.equal(report.state.nextRunAt?.getTime(), TEN_AM + 8 * HOUR + MINUTE);
});

Deno.test("laptop sleep, replay-all: all 480 minutes run, in order", async () => {
  const { report, events, seen } = await laptopSleep(MissedRunPolicy.ReplayAll);
  assert.equal(seen.length, 480);
  assert.deepEqual(
    seen,
    Array.from({ length: 480 }, (_, i) => TEN_AM + (i + 1) * MINUTE),
  );
  assert.deepEqual(skippedOf(events), []);
  assert.equal(report.state.triggerCount, 480);
  assert.equal(report.history.length, 32, "history keeps the newest 32");
  assert.equal(report.history[31].scheduledAt.getTime(), TEN_AM + 8 * HOUR);
});

Deno.test("laptop sleep, skip: nothing runs, one run-skipped of 480", async () => {
  const { report, events, seen } = await laptopSleep(MissedRunPolicy.Skip);
  assert.deepEqual(seen, []);
  assert.deepEqual(skippedOf(events), [
    { count: 480, reason: "missed", at: TEN_AM + 8 * HOUR },
  ]);
  assert.equal(report.state.triggerCount, 480);
});

async function pausedRun(policy: MissedRunPolicy) {
  return await withFakeClock(TEN_AM, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const handle = scheduler.handle();
    const seen: number[] = [];
    const job = Job.withoutDeps(
      "paused",
      Schedule.interval(100),
      Task.fromSync(({ run }) => {
        seen.push(run.scheduledAt.getTime() - TEN_AM);
      }),
    ).withMissedRunPolicy(policy).withMaxRuns(6);
    const running = scheduler.run(job);
    await clock.tickAsync(150); // runs 100
    handle.pause();
    assert.equal(handle.paused, true);
    await clock.tickAsync(300); // 200, 300, 400 come due; nothing runs
    const duringPause = [...seen];
    const consumedDuringPause = events.filter((e) =>
      e.type === "trigger-emitted"
    ).length;
    handle.resume();
    const report = await settle(clock, running);
    return { report, events, seen, duringPause, consumedDuringPause };
  });
}

Deno.test("pause: nothing is consumed or started; on resume catch-up-once runs once", async () => {
  const { report, events, seen, duringPause, consumedDuringPause } =
    await pausedRun(
      MissedRunPolicy.CatchUpOnce,
    );
  assert.deepEqual(duringPause, [100]);
  assert.equal(consumedDuringPause, 1);
  assert.deepEqual(seen, [100, 400, 500, 600]);
  assert.deepEqual(skippedOf(events), [
    { count: 2, reason: "missed", at: TEN_AM + 300 },
  ]);
  assert.equal(report.history[1].catchUp, true);
  assert.equal(report.state.triggerCount, 6);
});

Deno.test("pause: on resume replay-all runs every occurrence that came due", async () => {
  const { seen, events } = await pausedRun(MissedRunPolicy.ReplayAll);
  assert.deepEqual(seen, [100, 200, 300, 400, 500, 600]);
  assert.deepEqual(skippedOf(events), []);
});

Deno.test("pause: on resume skip drops them and reports the count", async () => {
  const { seen, events } = await pausedRun(MissedRunPolicy.Skip);
  assert.deepEqual(seen, [100, 500, 600]);
  assert.deepEqual(skippedOf(events), [{
    count: 3,
    reason: "missed",
    at: TEN_AM + 400,
  }]);
});

Deno.test("pause does not stop a running task, and holds a queued trigger", async () => {
  await withFakeClock(TEN_AM, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    const started: number[] = [];
    const finished: number[] = [];
    const job = Job.withoutDeps(
      "paused-queue",
      Schedule.atTimes([TEN_AM + 10, TEN_AM + 20]),
      Task.fromAsync(async () => {
        started.push(Date.now() - TEN_AM);
        await delay(50);
        finished.push(Date.now() - TEN_AM);
      }),
    ).withOverlapPolicy(OverlapPolicy.QueueOne);
    const running = scheduler.run(job);
    await clock.tickAsync(25); // 10 running, 20 queued
    handle.pause();
    await clock.tickAsync(100);
    assert.deepEqual(started, [10]);
    assert.deepEqual(finished, [60], "the running task finished while paused");
    handle.resume();
    const report = await settle(clock, running);
    assert.deepEqual(started, [10, 125]);
    assert.equal(report.history.length, 2);
  });
});

Deno.test("a paused scheduler can still be shut down", async () => {
  await withFakeClock(TEN_AM, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    handle.pause();
    const running = scheduler.run(
      Job.withoutDeps(
        "paused-stop",
        Schedule.interval(10),
        Task.fromSync(() => {}),
      ),
    );
    await clock.tickAsync(1000);
    handle.shutdown();
    const report = await settle(clock, running);
    assert.equal(report.stopReason, "shutdown");
    assert.deepEqual(report.history, []);
    assert.equal(report.state.triggerCount, 0);
    handle.resume();
  });
});
