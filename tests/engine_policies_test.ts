/** Missed-run and overlap policies (the Rust crate's tests/policies.rs). */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  Job,
  MissedRunPolicy,
  OverlapPolicy,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import {
  Concurrency,
  delay,
  recordEvents,
  settle,
  T0,
} from "./_engine_helpers.ts";

Deno.test("replay-all runs missed times in order and keeps the last time", async () => {
  await withFakeClock(T0, async (clock) => {
    const planned = [T0 - 90, T0 - 30, T0 + 60];
    const seen: number[] = [];
    const job = Job.withoutDeps(
      "replay",
      Schedule.atTimes(planned),
      Task.fromSync(({ run }) => {
        seen.push(run.scheduledAt.getTime());
      }),
    ).withMissedRunPolicy(MissedRunPolicy.ReplayAll);
    const report = await settle(
      clock,
      new Scheduler({}, new InMemoryStateStore()).run(job),
    );
    assert.deepEqual(seen, planned);
    assert.equal(report.history.length, 3);
    assert.equal(report.history[2].scheduledAt.getTime(), T0 + 60);
    assert.deepEqual(report.history.map((r) => r.catchUp), [
      true,
      false,
      false,
    ]);
    assert.equal(report.state.triggerCount, 3);
    assert.equal(report.state.nextRunAt, null);
    assert.equal(report.stopReason, "terminal");
  });
});

Deno.test("replay-all marks late occurrences catch-up", async () => {
  await withFakeClock(T0, async (clock) => {
    const job = Job.withoutDeps(
      "replay-late",
      Schedule.atTimes([T0 - 5000, T0 + 100]),
      Task.fromSync(() => {}),
    ).withMissedRunPolicy(MissedRunPolicy.ReplayAll);
    const report = await settle(
      clock,
      new Scheduler({ missedRunToleranceMs: 1000 }, new InMemoryStateStore())
        .run(job),
    );
    assert.deepEqual(report.history.map((r) => r.catchUp), [true, false]);
  });
});

Deno.test("skip drops past occurrences and runs the on-time one", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    let invocations = 0;
    const job = Job.withoutDeps(
      "skip",
      Schedule.atTimes([T0 - 80, T0 - 40, T0 + 200]),
      Task.fromSync(() => {
        invocations++;
      }),
    ).withMissedRunPolicy(MissedRunPolicy.Skip);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(invocations, 1);
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].scheduledAt.getTime(), T0 + 200);
    assert.equal(report.history[0].catchUp, false);
    assert.equal(report.state.triggerCount, 3);
    const skipped = events.filter((e) => e.type === "run-skipped");
    assert.deepEqual(skipped, [{
      type: "run-skipped",
      jobId: "skip",
      scheduledAt: new Date(T0 - 40),
      triggerCount: 2,
      count: 2,
      reason: "missed",
    }]);
  });
});

Deno.test("skip drops a single occurrence that is later than the tolerance", async () => {
  await withFakeClock(T0, async (clock) => {
    let invocations = 0;
    const job = Job.withoutDeps(
      "skip-late",
      Schedule.atTimes([T0 - 5000]),
      Task.fromSync(() => {
        invocations++;
      }),
    ).withMissedRunPolicy(MissedRunPolicy.Skip);
    const report = await settle(
      clock,
      new Scheduler({ missedRunToleranceMs: 1000 }, new InMemoryStateStore())
        .run(job),
    );
    assert.equal(invocations, 0);
    assert.equal(report.state.triggerCount, 1);
    // Within the tolerance it runs.
    const onTime = Job.withoutDeps(
      "skip-on-time",
      Schedule.atTimes([Date.now() - 500]),
      Task.fromSync(() => {
        invocations++;
      }),
    ).withMissedRunPolicy(MissedRunPolicy.Skip);
    await settle(
      clock,
      new Scheduler({ missedRunToleranceMs: 1000 }, new InMemoryStateStore())
        .run(onTime),
    );
    assert.equal(invocations, 1);
  });
});

Deno.test("catch-up-once replays one immediate run, then continues", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    let invocations = 0;
    const job = Job.withoutDeps(
      "catch-up",
      Schedule.atTimes([T0 - 120, T0 - 80, T0 - 30, T0 + 50]),
      Task.fromSync(() => {
        invocations++;
      }),
    ).withMissedRunPolicy(MissedRunPolicy.CatchUpOnce);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(invocations, 2);
    assert.equal(report.history.length, 2);
    assert.equal(report.history[0].scheduledAt.getTime(), T0 - 30);
    assert.equal(report.history[0].catchUp, true);
    assert.equal(report.history[0].triggerCount, 3);
    assert.equal(report.history[1].catchUp, false);
    assert.equal(report.state.triggerCount, 4);
    const skipped = events.filter((e) => e.type === "run-skipped");
    assert.deepEqual(skipped, [{
      type: "run-skipped",
      jobId: "catch-up",
      scheduledAt: new Date(T0 - 80),
      triggerCount: 3,
      count: 2,
      reason: "missed",
    }]);
  });
});

Deno.test("forbid skips re-entry: 20 ms interval, 70 ms tasks, maxRuns 5", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const concurrency = new Concurrency();
    const job = Job.withoutDeps(
      "forbid",
      Schedule.interval(20),
      Task.fromAsync(() => concurrency.around(() => delay(70))),
    ).withOverlapPolicy(OverlapPolicy.Forbid).withMaxRuns(5);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(concurrency.peak, 1);
    assert.equal(report.history.length, 2);
    assert.equal(report.state.triggerCount, 5);
    assert.deepEqual(
      report.history.map((r) => r.scheduledAt.getTime() - T0),
      [20, 100],
    );
    const drops = events.filter((e) => e.type === "run-skipped");
    assert.deepEqual(
      drops.map((e) =>
        e.type === "run-skipped" &&
        [e.reason, e.count, e.scheduledAt.getTime() - T0]
      ),
      [["overlap", 1, 40], ["overlap", 1, 60], ["overlap", 1, 80]],
    );
  });
});

Deno.test("queue-one keeps only a single pending run", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const concurrency = new Concurrency();
    const job = Job.withoutDeps(
      "queue-one",
      Schedule.interval(20),
      Task.fromAsync(() =>
        concurrency.around(() =>
          concurrency.invocations === 1 ? delay(120) : Promise.resolve()
        )
      ),
    ).withOverlapPolicy(OverlapPolicy.QueueOne).withMaxRuns(4);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(concurrency.peak, 1);
    assert.equal(concurrency.invocations, 3);
    assert.equal(report.history.length, 3);
    assert.equal(report.state.triggerCount, 4);
    assert.deepEqual(
      report.history.map((r) => [r.scheduledAt.getTime() - T0, r.catchUp]),
      // catchUp is decided with the trigger: 40 was on time when queued.
      [[20, false], [40, false], [80, true]],
    );
    // 60 came due while 40 was queued: queue-one's overflow.
    const skipped = events.filter((e) => e.type === "run-skipped");
    assert.equal(skipped.length, 1);
    assert.ok(skipped[0].type === "run-skipped");
    assert.equal(skipped[0].reason, "overlap");
    assert.equal(skipped[0].count, 1);
    assert.equal(skipped[0].scheduledAt.getTime(), T0 + 60);
  });
});

Deno.test("allow-parallel runs concurrently", async () => {
  await withFakeClock(T0, async (clock) => {
    const concurrency = new Concurrency();
    const job = Job.withoutDeps(
      "parallel",
      Schedule.interval(20),
      Task.fromAsync(() => concurrency.around(() => delay(70))),
    ).withOverlapPolicy(OverlapPolicy.AllowParallel).withMaxRuns(4);
    const report = await settle(
      clock,
      new Scheduler({}, new InMemoryStateStore()).run(job),
    );
    assert.equal(report.history.length, 4);
    assert.ok(concurrency.peak > 1, `peak ${concurrency.peak}`);
    assert.equal(concurrency.peak, 4);
    assert.deepEqual(
      report.history.map((r) => r.startedAt.getTime() - T0),
      [20, 40, 60, 80],
    );
  });
});

Deno.test("replay-all with forbid runs the backlog serially; with allow-parallel all at once", async () => {
  for (
    const [overlap, peak] of [
      [OverlapPolicy.Forbid, 1],
      [OverlapPolicy.QueueOne, 1],
      [OverlapPolicy.AllowParallel, 3],
    ] as const
  ) {
    await withFakeClock(T0, async (clock) => {
      const concurrency = new Concurrency();
      const job = Job.withoutDeps(
        `replay-${overlap}`,
        Schedule.atTimes([T0 - 300, T0 - 200, T0 - 100]),
        Task.fromAsync(() => concurrency.around(() => delay(50))),
      ).withMissedRunPolicy(MissedRunPolicy.ReplayAll).withOverlapPolicy(
        overlap,
      );
      const report = await settle(
        clock,
        new Scheduler({}, new InMemoryStateStore()).run(job),
      );
      assert.equal(report.history.length, 3, overlap);
      assert.equal(concurrency.peak, peak, overlap);
      assert.deepEqual(
        report.history.map((r) => r.scheduledAt.getTime() - T0).sort((a, b) =>
          a - b
        ),
        [-300, -200, -100],
      );
    });
  }
});

Deno.test("missedRunToleranceMs decides lateness", async () => {
  await withFakeClock(T0, async (clock) => {
    const job = Job.withoutDeps(
      "tolerance",
      Schedule.atTimes([T0 - 50]),
      Task.fromSync(() => {}),
    );
    const strict = await settle(
      clock,
      new Scheduler({ missedRunToleranceMs: 10 }, new InMemoryStateStore()).run(
        job,
      ),
    );
    assert.equal(strict.history[0].catchUp, true);
    const lenient = await settle(
      clock,
      new Scheduler({ missedRunToleranceMs: 10_000 }, new InMemoryStateStore())
        .run(job),
    );
    assert.equal(lenient.history[0].catchUp, false);
  });
});
