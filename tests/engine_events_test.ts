/** Events and observers (the Rust crate's tests/observer_and_cleanup.rs). */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  Job,
  NoopObserver,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
  TerminalStatePolicy,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { recordEvents, settle, T0 } from "./_engine_helpers.ts";

Deno.test("observer receives repair, trigger, completion and shutdown events in order", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    await store.save({
      jobId: "observed",
      triggerCount: 2,
      lastRunAt: null,
      lastSuccessAt: null,
      nextRunAt: null,
      lastError: null,
    });
    const observed: SchedulerEvent[] = [];
    const scheduler = Scheduler.withObserver({}, store, {
      onEvent: (event) => observed.push(event),
    });
    const dispatched = recordEvents(scheduler);
    const handle = scheduler.handle();
    let invocations = 0;
    await settle(
      clock,
      scheduler.run(
        Job.withoutDeps(
          "observed",
          Schedule.interval(80),
          Task.fromSync(() => {
            invocations++;
            handle.shutdown();
          }),
        ),
      ),
    );
    assert.equal(invocations, 1);
    const at = new Date(T0 + 80);
    assert.deepEqual(observed, [
      {
        type: "state-repaired",
        jobId: "observed",
        triggerCount: 2,
        previousNextRunAt: null,
        repairedNextRunAt: at,
      },
      {
        type: "state-loaded",
        jobId: "observed",
        triggerCount: 2,
        nextRunAt: at,
        source: "repaired",
      },
      {
        type: "trigger-emitted",
        jobId: "observed",
        scheduledAt: at,
        catchUp: false,
        triggerCount: 3,
      },
      {
        type: "run-started",
        jobId: "observed",
        scheduledAt: at,
        catchUp: false,
        triggerCount: 3,
      },
      {
        type: "run-completed",
        jobId: "observed",
        scheduledAt: at,
        catchUp: false,
        triggerCount: 3,
        status: "success",
        error: null,
        // The task ran at its scheduled instant, in no (fake) time.
        startedAt: at,
        finishedAt: at,
      },
      {
        type: "scheduler-stopped",
        jobId: "observed",
        triggerCount: 3,
        reason: "shutdown",
      },
    ]);
    assert.deepEqual(dispatched, observed, "listeners get the same details");
    assert.equal(dispatched[0], observed[0], "the very same object");
  });
});

Deno.test("a fresh at-times run: state-loaded new, trigger, start, completion, stop", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    await settle(
      clock,
      scheduler.run(
        Job.withoutDeps(
          "fresh",
          Schedule.atTimes([T0 + 5]),
          Task.fromSync(() => {}),
        ),
      ),
    );
    assert.deepEqual(events.map((e) => e.type), [
      "state-loaded",
      "trigger-emitted",
      "run-started",
      "run-completed",
      "scheduler-stopped",
    ]);
    assert.equal(events[0].type === "state-loaded" && events[0].source, "new");
    assert.equal(
      events[4].type === "scheduler-stopped" && events[4].reason,
      "terminal",
    );
  });
});

Deno.test("terminalStatePolicy delete removes the state and emits terminal-state-deleted", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const scheduler = new Scheduler(
      { terminalStatePolicy: TerminalStatePolicy.Delete },
      store,
    );
    const events = recordEvents(scheduler);
    const report = await settle(
      clock,
      scheduler.run(
        Job.withoutDeps(
          "deleted",
          Schedule.atTimes([T0 + 20]),
          Task.fromSync(() => {}),
        )
          .withMaxRuns(1),
      ),
    );
    assert.equal(report.state.triggerCount, 1);
    assert.equal(await store.load("deleted"), undefined);
    assert.deepEqual(events.slice(-2), [
      { type: "terminal-state-deleted", jobId: "deleted", triggerCount: 1 },
      {
        type: "scheduler-stopped",
        jobId: "deleted",
        triggerCount: 1,
        reason: "terminal",
      },
    ]);
  });
});

Deno.test("retain keeps the terminal state", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const report = await settle(
      clock,
      new Scheduler({}, store).run(
        Job.withoutDeps(
          "kept",
          Schedule.atTimes([T0 + 20]),
          Task.fromSync(() => {}),
        ),
      ),
    );
    assert.deepEqual(await store.load("kept"), report.state);
  });
});

Deno.test("a throwing listener or observer never disturbs scheduling", async () => {
  await withFakeClock(T0, async (clock) => {
    const errors: unknown[][] = [];
    const originalError = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      const scheduler = Scheduler.withObserver({}, new InMemoryStateStore(), {
        onEvent() {
          throw new Error("observer bug");
        },
      });
      scheduler.addEventListener("run-completed", () => {
        throw new Error("listener bug");
      });
      scheduler.addEventListener(
        "trigger-emitted",
        () => Promise.reject(new Error("async listener bug")),
      );
      const later: string[] = [];
      scheduler.addEventListener(
        "run-completed",
        (e) => later.push(e.detail.status),
      );
      const report = await settle(
        clock,
        scheduler.run(
          Job.withoutDeps(
            "robust",
            Schedule.interval(10),
            Task.fromSync(() => {}),
          )
            .withMaxRuns(3),
        ),
      );
      assert.equal(report.history.length, 3);
      assert.deepEqual(
        later,
        ["success", "success", "success"],
        "other listeners still run",
      );
      const messages = errors.map((args) => args.map(String).join(" "));
      assert.ok(messages.some((m) => m.includes("observer bug")));
      assert.ok(messages.some((m) => m.includes("listener bug")));
      assert.ok(messages.some((m) => m.includes("async listener bug")));
    } finally {
      console.error = originalError;
    }
  });
});

Deno.test("listeners can be removed, and once/signal options are honoured", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    let all = 0;
    let once = 0;
    let untilAborted = 0;
    const controller = new AbortController();
    const listener = () => all++;
    scheduler.addEventListener("run-completed", listener);
    scheduler.addEventListener("run-completed", listener); // duplicate: ignored
    scheduler.addEventListener("run-completed", () => once++, { once: true });
    scheduler.addEventListener("run-completed", () => {
      untilAborted++;
      controller.abort();
    }, { signal: controller.signal });
    const job = Job.withoutDeps(
      "listeners",
      Schedule.interval(10),
      Task.fromSync(() => {}),
    )
      .withMaxRuns(2);
    await settle(clock, scheduler.run(job));
    assert.deepEqual([all, once, untilAborted], [2, 1, 1]);
    scheduler.removeEventListener("run-completed", listener);
    await settle(clock, scheduler.run(job.withMaxRuns(4)));
    assert.equal(all, 2, "removed listener not called again");
  });
});

Deno.test("NoopObserver accepts events without side effects", () => {
  const observer = new NoopObserver();
  assert.equal(
    observer.onEvent({
      type: "terminal-state-deleted",
      jobId: "a",
      triggerCount: 1,
    }),
    undefined,
  );
});

Deno.test("LogObserver writes one key=value line per event at the right level", async () => {
  await withFakeClock(T0, async (clock) => {
    const lines: [string, string][] = [];
    const saved = { ...console };
    for (const level of ["debug", "info", "warn", "error"] as const) {
      console[level] = (line: string) => lines.push([level, line]);
    }
    try {
      await settle(
        clock,
        Scheduler.withLogObserver({}, new InMemoryStateStore()).run(
          Job.withoutDeps(
            "logged",
            Schedule.atTimes([T0 + 5, T0 + 10]),
            Task.fromSync(({ run }) => {
              if (run.triggerCount === 2) throw new Error("second failed");
            }),
          ),
        ),
      );
    } finally {
      Object.assign(console, saved);
    }
    assert.deepEqual(
      lines.map(([level, line]) => [level, line.split(" ")[1]]),
      [
        ["info", "state-loaded"],
        ["debug", "trigger-emitted"],
        ["info", "run-started"],
        ["debug", "run-completed"],
        ["debug", "trigger-emitted"],
        ["info", "run-started"],
        ["warn", "run-completed"],
        ["info", "scheduler-stopped"],
      ],
    );
    assert.equal(
      lines[6][1],
      `scheduler run-completed job_id=logged scheduled_at=${
        new Date(T0 + 10).toISOString()
      } catch_up=false trigger_count=2 status=failed error="second failed" started_at=${
        new Date(T0 + 10).toISOString()
      } finished_at=${new Date(T0 + 10).toISOString()}`,
    );
  });
});
