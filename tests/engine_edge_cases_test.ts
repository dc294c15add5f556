/** Edge cases (the Rust crate's tests/edge_cases.rs and task_execution.rs). */
import assert from "node:assert/strict";
import {
  CronSchedule,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { delay, recordEvents, settle, T0 } from "./_engine_helpers.ts";

function run<D>(
  clock: Parameters<typeof settle>[0],
  job: Job<D>,
  store = new InMemoryStateStore(),
) {
  return settle(clock, new Scheduler({}, store).run(job));
}

Deno.test("at-times waits for its first trigger; never runs at start-up", async () => {
  await withFakeClock(T0, async (clock) => {
    let invocations = 0;
    const job = Job.withoutDeps(
      "wait",
      Schedule.atTimes([T0 + 120]),
      Task.fromSync(() => {
        invocations++;
      }),
    );
    const report = await run(clock, job);
    assert.equal(invocations, 1);
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].catchUp, false);
    assert.equal(report.history[0].startedAt.getTime(), T0 + 120);
  });
});

Deno.test("interval runs exactly up to maxRuns, at fixed rate", async () => {
  await withFakeClock(T0, async (clock) => {
    let invocations = 0;
    const job = Job.withoutDeps(
      "interval",
      Schedule.interval(30),
      Task.fromAsync(async () => {
        invocations++;
        await delay(10); // the next run is still anchored to the schedule
      }),
    ).withMaxRuns(3);
    const report = await run(clock, job);
    assert.equal(invocations, 3);
    assert.equal(report.history.length, 3);
    assert.equal(report.state.triggerCount, 3);
    assert.deepEqual(
      report.history.map((r) => r.scheduledAt.getTime() - T0),
      [30, 60, 90],
    );
    assert.equal(report.state.nextRunAt, null);
    assert.equal(report.stopReason, "terminal");
  });
});

Deno.test("at-times respects maxRuns", async () => {
  await withFakeClock(T0, async (clock) => {
    let invocations = 0;
    const job = Job.withoutDeps(
      "max-one",
      Schedule.atTimes([T0 + 30, T0 + 80]),
      Task.fromSync(() => {
        invocations++;
      }),
    ).withMaxRuns(1);
    const report = await run(clock, job);
    assert.equal(invocations, 1);
    assert.equal(report.history.length, 1);
    assert.equal(report.state.triggerCount, 1);
    assert.equal(report.state.nextRunAt, null);
  });
});

Deno.test("an empty at-times schedule ends at once without running", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const job = Job.withoutDeps(
      "empty",
      Schedule.atTimes([]),
      Task.fromSync(() => {
        throw new Error("must not run");
      }),
    );
    const report = await run(clock, job, store);
    assert.deepEqual(report.history, []);
    assert.equal(report.state.nextRunAt, null);
    assert.equal(report.state.triggerCount, 0);
    assert.equal(report.stopReason, "terminal");
    assert.equal(Date.now(), T0, "no time passed");
    assert.deepEqual(await store.load("empty"), report.state, "saved once");
  });
});

Deno.test("maxRuns 0 ends without running, for intervals and at-times", async () => {
  await withFakeClock(T0, async (clock) => {
    let invocations = 0;
    const task = Task.fromSync(() => {
      invocations++;
    });
    for (
      const schedule of [Schedule.interval(20), Schedule.atTimes([T0 + 20])]
    ) {
      const report = await run(
        clock,
        Job.withoutDeps(`zero-${schedule.kind}`, schedule, task).withMaxRuns(0),
      );
      assert.deepEqual(report.history, []);
      assert.equal(report.state.nextRunAt, null);
    }
    assert.equal(invocations, 0);
  });
});

Deno.test("zero interval and @reboot are rejected with their kinds", () => {
  assert.throws(
    () => Schedule.interval(0),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "zero-interval",
  );
  assert.throws(
    () => CronSchedule.parse("@hourly @reboot"),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "cron-expression",
  );
  assert.throws(
    () => Schedule.cron("@reboot"),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "cron-expression",
  );
});

Deno.test("sync and async tasks with and without deps receive their context", async () => {
  await withFakeClock(T0, async (clock) => {
    const deps = { label: "context" };
    const seen: unknown[] = [];
    const planned = T0 + 60;
    const job = new Job(
      "context",
      Schedule.atTimes([planned]),
      deps,
      Task.fromSync(({ run, deps: given, signal }) => {
        seen.push(
          run.scheduledAt.getTime(),
          given,
          run.jobId,
          run.timezone,
          signal.aborted,
        );
      }),
    );
    const report = await settle(
      clock,
      new Scheduler({ timezone: "Asia/Shanghai" }, new InMemoryStateStore())
        .run(job),
    );
    assert.deepEqual(seen, [planned, deps, "context", "Asia/Shanghai", false]);
    assert.equal(seen[1], deps, "the very same deps object");
    assert.equal(report.history[0].scheduledAt.getTime(), planned);

    let syncRuns = 0;
    const syncJob = Job.withoutDeps(
      "sync",
      Schedule.interval(20),
      Task.fromSync(({ deps: none }) => {
        assert.equal(none, undefined);
        syncRuns++;
      }),
    ).withMaxRuns(1);
    const syncReport = await run(clock, syncJob);
    assert.equal(syncRuns, 1);
    assert.equal(syncReport.state.triggerCount, 1);
  });
});

Deno.test("a restored state wins over the job definition", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    await store.save({
      jobId: "restored",
      triggerCount: 7,
      lastRunAt: null,
      lastSuccessAt: null,
      nextRunAt: new Date(T0 + 500),
      lastError: null,
    });
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    const report = await settle(
      clock,
      scheduler.run(
        Job.withoutDeps(
          "restored",
          Schedule.interval(20),
          Task.fromSync(() => {}),
        )
          .withMaxRuns(8),
      ),
    );
    assert.equal(report.history[0].scheduledAt.getTime(), T0 + 500);
    assert.equal(report.state.triggerCount, 8);
    assert.deepEqual(events[0], {
      type: "state-loaded",
      jobId: "restored",
      triggerCount: 7,
      nextRunAt: new Date(T0 + 500),
      source: "restored",
    });
  });
});

Deno.test("a long wait never arms a timer above an hour", async () => {
  await withFakeClock(T0, async (clock) => {
    const original = globalThis.setTimeout;
    let largest = 0;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      largest = Math.max(largest, ms ?? 0);
      return original(fn, ms);
    }) as typeof setTimeout;
    try {
      const report = await run(
        clock,
        Job.withoutDeps(
          "yearly",
          Schedule.cron("0 0 1 1 *"),
          Task.fromSync(() => {}),
        ).withMaxRuns(1),
      );
      assert.equal(
        report.history[0].scheduledAt.toISOString(),
        "2027-01-01T00:00:00.000Z",
      );
      assert.ok(largest <= 3_600_000, `largest timer ${largest}`);
    } finally {
      globalThis.setTimeout = original;
    }
  }, { monotonic: true }); // wall and monotonic clocks move together, as under real time
});
