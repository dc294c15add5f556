/**
 * Deterministic jitter (in memory, fake time): jittered occurrences
 * that every instance computes alike, measured from their jittered instant.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  InvalidJobError,
  Job,
  MissedRunPolicy,
  type RunContext,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { recordEvents, settle, T0 } from "./_engine_helpers.ts";
import { SlotGuard } from "./_slot_guard.ts";
import { jitterDelay } from "../src/scheduler/job/_jitter.ts";

const HOUR = 3_600_000;

Deno.test("jitterDelay is deterministic, within [0, maxMs), and spreads occurrences", () => {
  assert.equal(jitterDelay("job", T0, 0), 0);
  assert.equal(jitterDelay("job", T0, 60_000), jitterDelay("job", T0, 60_000));
  const delays = new Set<number>();
  let sum = 0;
  for (let i = 0; i < 1_000; i++) {
    const d = jitterDelay("hourly-report", T0 + i * HOUR, 60_000);
    assert.ok(d >= 0 && d < 60_000 && Number.isInteger(d), `${d}`);
    delays.add(d);
    sum += d;
  }
  assert.ok(delays.size > 950, `${delays.size} distinct delays`);
  assert.ok(Math.abs(sum / 1_000 - 30_000) < 3_000, `mean ${sum / 1_000}`);
  // Other job ids at the same instant get other delays.
  const jobs = new Set(
    Array.from({ length: 50 }, (_, i) => jitterDelay(`job-${i}`, T0, 60_000)),
  );
  assert.ok(jobs.size > 45);
});

Deno.test("jitter delays each occurrence; scheduledAt stays nominal; a jitter above the tolerance is not late", async () => {
  await withFakeClock(T0, async (clock) => {
    const contexts: RunContext[] = [];
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps(
      "spread",
      Schedule.interval(HOUR),
      Task.fromSync(({ run }) => void contexts.push(run)),
    ).withJitter(10 * 60_000).withMissedRunPolicy(MissedRunPolicy.Skip)
      .withMaxRuns(3);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.history.length, 3);
    for (const [i, record] of report.history.entries()) {
      const nominal = T0 + (i + 1) * HOUR;
      const jitter = jitterDelay("spread", nominal, 10 * 60_000);
      assert.equal(record.scheduledAt.getTime(), nominal);
      assert.equal(record.startedAt.getTime(), nominal + jitter);
      assert.equal(record.catchUp, false);
      assert.equal(contexts[i].jitterMs, jitter);
    }
    assert.ok(contexts.some((run) => run.jitterMs > 1_000));
    assert.equal(
      events.filter((e: SchedulerEvent) => e.type === "run-skipped").length,
      0,
    );
  });
});

Deno.test("jitter is identical across two schedulers; with a shared guard each occurrence runs once", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new SlotGuard();
    const started: [string, number, number][] = [];
    const job = (name: string) =>
      Job.withoutDeps(
        "jittered",
        Schedule.cron("0 * * * *"),
        Task.fromSync(({ run }) =>
          void started.push([name, run.scheduledAt.getTime(), Date.now()])
        ),
      ).withJitter(30 * 60_000).withMaxRuns(4);
    const a = Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard);
    const b = Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard);
    const [ra, rb] = await settle(
      clock,
      Promise.all([a.run(job("a")), b.run(job("b"))]),
    );
    assert.equal(started.length, 4, "each occurrence ran once in all");
    assert.equal(ra.history.length + rb.history.length, 4);
    // Both instances asked for the same slot at the same jittered instant.
    const acquires = guard.ofOp("acquire");
    assert.equal(acquires.length, 8);
    for (let i = 0; i < 8; i += 2) {
      assert.equal(acquires[i].slot, acquires[i + 1].slot);
      assert.equal(acquires[i].at, acquires[i + 1].at);
    }
    for (const [, nominal, at] of started) {
      assert.equal(at, nominal + jitterDelay("jittered", nominal, 30 * 60_000));
    }
  });
});

Deno.test("jitter: a wake-up between the nominal and the jittered instant does not start the run early", async () => {
  await withFakeClock(T0, async (clock) => {
    // An occurrence whose jitter is large enough to wake up inside it.
    let nominal = T0 + 1_000;
    while (jitterDelay("early", nominal, 5_000) < 1_000) nominal += 1_000;
    const jitter = jitterDelay("early", nominal, 5_000);
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    const job = Job.withoutDeps(
      "early",
      Schedule.atTimes([nominal]),
      Task.fromSync(() => {}),
    ).withJitter(5_000);
    const running = scheduler.run(job);
    await clock.tickAsync(nominal - T0 + 500);
    handle.pause();
    handle.resume(); // wakes the engine half a second past nominal
    const report = await settle(clock, running);
    assert.equal(report.history[0].startedAt.getTime(), nominal + jitter);
    assert.equal(report.history[0].catchUp, false);
  });
});

Deno.test("withJitter: on an interval schedule the bound must be smaller than the interval", () => {
  const job = Job.withoutDeps(
    "jitter-bound",
    Schedule.interval(1_000),
    Task.fromSync(() => {}),
  );
  assert.equal(job.withJitter(999).jitterMaxMs, 999);
  assert.throws(
    () => job.withJitter(1_000),
    (error) =>
      error instanceof InvalidJobError && error.kind === "other" &&
      /smaller than the interval \(1000 ms\), got 1000/.test(error.message),
  );
});
