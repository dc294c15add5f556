/** Control and recovery (the Rust crate's tests/control_and_recovery.rs and
 * cron_schedule.rs), plus cancel/shutdown/signal semantics. */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  Job,
  type JobState,
  MissedRunPolicy,
  OverlapPolicy,
  Schedule,
  Scheduler,
  type StateStore,
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

const MINUTE = 60_000;
/** T0 floored to its minute (01:02:00Z). */
const F = Math.floor(T0 / MINUTE) * MINUTE;

function state(overrides: Partial<JobState> & { jobId: string }): JobState {
  return {
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: null,
    lastError: null,
    ...overrides,
  };
}

/** An in-memory store that counts saves. */
class CountingStore extends InMemoryStateStore implements StateStore {
  saves = 0;
  override save(value: JobState): Promise<void> {
    this.saves++;
    return super.save(value);
  }
}

Deno.test("state is restored after a graceful shutdown", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    let invocations = 0;
    const first = new Scheduler({}, store);
    const handle = first.handle();
    const job = Job.withoutDeps(
      "restore",
      Schedule.atTimes([T0 + 30, T0 + 120]),
      Task.fromAsync(async () => {
        invocations++;
        handle.shutdown();
        await delay(20);
      }),
    );
    const report1 = await settle(clock, first.run(job));
    assert.equal(invocations, 1);
    assert.equal(report1.history.length, 1);
    assert.equal(report1.stopReason, "shutdown");
    assert.equal((await store.load("restore"))?.nextRunAt?.getTime(), T0 + 120);

    const second = new Scheduler({}, store);
    const report2 = await settle(clock, second.run(job));
    assert.equal(invocations, 2);
    assert.equal(report2.history.length, 1);
    assert.equal(report2.state.triggerCount, 2);
    assert.equal(report2.stopReason, "terminal");
  });
});

Deno.test("at-times given in Shanghai run at the right instant under a UTC config", async () => {
  await withFakeClock(T0, async (clock) => {
    const planned = T0 + 70;
    const shanghai = new Date(planned + 8 * 3_600_000).toISOString().replace(
      "Z",
      "+08:00",
    );
    let seen: number | undefined;
    const job = Job.withoutDeps(
      "shanghai",
      Schedule.atTimes([shanghai]),
      Task.fromSync(({ run }) => {
        seen = run.scheduledAt.getTime();
      }),
    );
    const report = await settle(
      clock,
      new Scheduler(
        { timezone: "UTC", historyLimit: 8 },
        new InMemoryStateStore(),
      ).run(job),
    );
    assert.equal(seen, planned);
    assert.equal(report.history[0].scheduledAt.getTime(), planned);
    assert.equal(report.history[0].startedAt.getTime(), planned);
  });
});

Deno.test("cancel while waiting ends with no history", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const job = Job.withoutDeps(
      "cancel",
      Schedule.interval(200),
      Task.fromSync(() => {}),
    )
      .withMaxRuns(1);
    const running = scheduler.run(job);
    await clock.tickAsync(40);
    scheduler.handle().cancel();
    const report = await settle(clock, running);
    assert.deepEqual(report.history, []);
    assert.equal(report.state.triggerCount, 0);
    assert.equal(report.stopReason, "cancelled");
    assert.equal(
      Date.now(),
      T0 + 40,
      "stopped at once, not at the next occurrence",
    );
    assert.equal(clock.countTimers(), 0, "no timer left behind");
  });
});

Deno.test("shutdown waits for the running task and persists its state", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const scheduler = new Scheduler({}, store);
    const handle = scheduler.handle();
    let signalAborted: boolean | undefined;
    const job = Job.withoutDeps(
      "shutdown",
      Schedule.interval(10),
      Task.fromAsync(async ({ signal }) => {
        handle.shutdown();
        await delay(80);
        signalAborted = signal.aborted;
      }),
    ).withMaxRuns(10);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, "success");
    assert.equal(signalAborted, false, "shutdown lets tasks finish");
    assert.equal(report.state.triggerCount, 1);
    assert.equal(report.state.lastSuccessAt?.getTime(), T0 + 90);
    assert.equal(report.stopReason, "shutdown");
    assert.deepEqual(await store.load("shutdown"), report.state);
  });
});

Deno.test("an interval state without a next run is repaired (keeping its fields) and runs", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const stored = state({
      jobId: "repair",
      triggerCount: 3,
      lastRunAt: new Date(T0 - 10_000),
      lastSuccessAt: new Date(T0 - 9_000),
      lastError: "previous failure",
    });
    await store.save(stored);
    const scheduler = new Scheduler({}, store);
    const handle = scheduler.handle();
    let invocations = 0;
    const job = Job.withoutDeps(
      "repair",
      Schedule.interval(80),
      Task.fromSync(() => {
        invocations++;
        handle.shutdown();
      }),
    );
    const running = scheduler.run(job);
    await clock.tickAsync(20);
    assert.deepEqual(await store.load("repair"), {
      ...stored,
      nextRunAt: new Date(T0 + 80),
    });
    const report = await settle(clock, running);
    assert.equal(invocations, 1);
    assert.equal(report.state.triggerCount, 4);
    assert.equal(report.history.length, 1);
    assert.notEqual(report.state.nextRunAt, null);
    assert.equal(report.state.lastError, null, "cleared by the success");
  });
});

Deno.test("an incomplete interval state with maxRuns left is repaired", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    await store.save(
      state({ jobId: "incomplete", triggerCount: 1, lastError: "stale" }),
    );
    const scheduler = new Scheduler({}, store);
    const handle = scheduler.handle();
    let invocations = 0;
    const running = scheduler.run(
      Job.withoutDeps(
        "incomplete",
        Schedule.interval(80),
        Task.fromSync(() => {
          invocations++;
          handle.shutdown();
        }),
      ).withMaxRuns(3),
    );
    await clock.tickAsync(20);
    const repaired = await store.load("incomplete");
    assert.equal(repaired?.triggerCount, 1);
    assert.equal(repaired?.nextRunAt?.getTime(), T0 + 80);
    const report = await settle(clock, running);
    assert.equal(invocations, 1);
    assert.equal(report.state.triggerCount, 2);
  });
});

Deno.test("terminal states stay byte-for-byte unchanged when restored", async () => {
  await withFakeClock(T0, async (clock) => {
    for (
      const [stored, job] of [
        [
          state({ jobId: "done-at-times", triggerCount: 1 }),
          Job.withoutDeps(
            "done-at-times",
            Schedule.atTimes([T0 + 200]),
            Task.fromSync(() => {
              throw new Error("must not run");
            }),
          ),
        ],
        [
          state({ jobId: "done-interval", triggerCount: 2, lastError: "kept" }),
          Job.withoutDeps(
            "done-interval",
            Schedule.interval(20),
            Task.fromSync(() => {
              throw new Error("must not run");
            }),
          ).withMaxRuns(2),
        ],
        [
          state({ jobId: "done-cron", triggerCount: 5 }),
          Job.withoutDeps(
            "done-cron",
            Schedule.cron("* * * * *"),
            Task.fromSync(() => {
              throw new Error("must not run");
            }),
          ),
        ],
      ] as const
    ) {
      const store = new CountingStore();
      await store.save(stored);
      store.saves = 0;
      const report = await settle(clock, new Scheduler({}, store).run(job));
      assert.deepEqual(report.state, stored, stored.jobId);
      assert.deepEqual(report.history, []);
      assert.equal(report.stopReason, "terminal");
      assert.equal(store.saves, 0, `${stored.jobId} is not re-saved`);
      assert.deepEqual(await store.load(stored.jobId), stored);
    }
  });
});

function cronJob(id: string, policy: MissedRunPolicy, task: Task<undefined>) {
  return Job.withoutDeps(id, Schedule.cron("* * * * *"), task)
    .withMissedRunPolicy(policy);
}

Deno.test("cron replay-all runs each missed minute in order", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    await store.save(
      state({ jobId: "cron-replay", nextRunAt: new Date(F - 2 * MINUTE) }),
    );
    const seen: number[] = [];
    const report = await settle(
      clock,
      new Scheduler({}, store).run(
        cronJob(
          "cron-replay",
          MissedRunPolicy.ReplayAll,
          Task.fromSync(({ run }) => {
            seen.push(run.scheduledAt.getTime());
          }),
        ).withMaxRuns(3),
      ),
    );
    assert.deepEqual(seen, [F - 2 * MINUTE, F - MINUTE, F]);
    assert.equal(report.history.length, 3);
    assert.equal(report.state.triggerCount, 3);
    assert.equal(report.state.nextRunAt, null);
  });
});

Deno.test("cron catch-up-once replays only the latest due minute", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    await store.save(
      state({ jobId: "cron-catch-up", nextRunAt: new Date(F - 2 * MINUTE) }),
    );
    const report = await settle(
      clock,
      new Scheduler({}, store).run(
        cronJob(
          "cron-catch-up",
          MissedRunPolicy.CatchUpOnce,
          Task.fromSync(() => {}),
        )
          .withMaxRuns(3),
      ),
    );
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].scheduledAt.getTime(), F);
    assert.equal(report.history[0].catchUp, true);
    assert.equal(report.state.triggerCount, 3);
    assert.equal(report.state.nextRunAt, null);
  });
});

Deno.test("cron skip advances the state, then waits for the next future minute", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    await store.save(
      state({ jobId: "cron-skip", nextRunAt: new Date(F - 2 * MINUTE) }),
    );
    const scheduler = new Scheduler({}, store);
    const running = scheduler.run(
      cronJob(
        "cron-skip",
        MissedRunPolicy.Skip,
        Task.fromSync(() => {
          throw new Error("must not run");
        }),
      ),
    );
    await clock.tickAsync(40);
    scheduler.handle().cancel();
    const report = await settle(clock, running);
    assert.deepEqual(report.history, []);
    assert.equal(report.state.triggerCount, 3);
    assert.equal(report.state.nextRunAt?.getTime(), F + MINUTE);
  });
});

Deno.test("cron replay-all with allow-parallel runs the due minutes concurrently", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    await store.save(
      state({ jobId: "cron-parallel", nextRunAt: new Date(F - 3 * MINUTE) }),
    );
    const concurrency = new Concurrency();
    const report = await settle(
      clock,
      new Scheduler({}, store).run(
        cronJob(
          "cron-parallel",
          MissedRunPolicy.ReplayAll,
          Task.fromAsync(() => concurrency.around(() => delay(40))),
        ).withOverlapPolicy(OverlapPolicy.AllowParallel).withMaxRuns(4),
      ),
    );
    assert.equal(report.history.length, 4);
    assert.ok(concurrency.peak > 1);
  });
});

Deno.test("cron state is restored across scheduler instances", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    await store.save(
      state({ jobId: "cron-restore", nextRunAt: new Date(F - MINUTE) }),
    );
    let invocations = 0;
    const first = new Scheduler({}, store);
    const handle = first.handle();
    const job = (onRun: () => void) =>
      cronJob(
        "cron-restore",
        MissedRunPolicy.ReplayAll,
        Task.fromSync(() => {
          invocations++;
          onRun();
        }),
      ).withMaxRuns(2);
    await settle(clock, first.run(job(() => handle.shutdown())));
    assert.equal((await store.load("cron-restore"))?.nextRunAt?.getTime(), F);
    const report = await settle(
      clock,
      new Scheduler({}, store).run(job(() => {})),
    );
    assert.equal(invocations, 2);
    assert.equal(report.history.length, 1);
    assert.equal(report.state.triggerCount, 2);
    assert.equal(report.state.nextRunAt, null);
  });
});

Deno.test("cancel aborts the running task's signal with the reason and records it cancelled", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    let reasonSeen: unknown;
    const reason = new Error("deploying");
    const job = Job.withoutDeps(
      "cancel-running",
      Schedule.interval(10),
      Task.fromAsync(({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () => {
            reasonSeen = signal.reason;
            reject(signal.reason);
          });
          handle.cancel(reason);
        })
      ),
    );
    const report = await settle(clock, scheduler.run(job));
    assert.equal(reasonSeen, reason);
    assert.equal(report.stopReason, "cancelled");
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, "cancelled");
    assert.equal(report.history[0].error, "deploying");
    assert.equal(report.state.lastError, null, "a cancel is not a failure");
  });
});

Deno.test("cancel without a reason aborts with an AbortError", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    let reasonSeen: unknown;
    const job = Job.withoutDeps(
      "cancel-default",
      Schedule.interval(10),
      Task.fromAsync(async ({ signal }) => {
        scheduler.handle().cancel();
        reasonSeen = signal.reason;
        await delay(5); // resolves anyway: a success after the abort
      }),
    );
    const report = await settle(clock, scheduler.run(job));
    assert.ok(reasonSeen instanceof DOMException);
    assert.equal((reasonSeen as DOMException).name, "AbortError");
    assert.equal(report.history[0].status, "success");
  });
});

Deno.test("the signal option cancels the run and reaches the task", async () => {
  await withFakeClock(T0, async (clock) => {
    const controller = new AbortController();
    let reasonSeen: unknown;
    const job = Job.withoutDeps(
      "signal",
      Schedule.interval(10),
      Task.fromAsync(({ signal }) =>
        new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => {
            reasonSeen = signal.reason;
            resolve();
          });
        })
      ),
    );
    const running = new Scheduler({}, new InMemoryStateStore()).run(job, {
      signal: controller.signal,
    });
    await clock.tickAsync(15);
    controller.abort("user pressed ctrl-c");
    const report = await settle(clock, running);
    assert.equal(report.stopReason, "cancelled");
    assert.equal(reasonSeen, "user pressed ctrl-c");
    assert.equal(report.history.length, 1);

    // An already aborted signal stops before anything runs.
    const aborted = await settle(
      clock,
      new Scheduler({}, new InMemoryStateStore()).run(job, {
        signal: AbortSignal.abort(),
      }),
    );
    assert.equal(aborted.stopReason, "cancelled");
    assert.deepEqual(aborted.history, []);
  });
});

Deno.test("a cancel or shutdown before run() applies to it and is used up", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps(
      "early",
      Schedule.interval(10),
      Task.fromSync(() => {}),
    )
      .withMaxRuns(2);
    scheduler.handle().cancel();
    const cancelled = await settle(clock, scheduler.run(job));
    assert.equal(cancelled.stopReason, "cancelled");
    assert.deepEqual(cancelled.history, []);
    assert.deepEqual(events.map((e) => e.type), [
      "state-loaded",
      "scheduler-stopped",
    ]);

    const next = await settle(clock, scheduler.run(job));
    assert.equal(next.stopReason, "terminal", "the cancel was used up");
    assert.equal(next.history.length, 2);

    scheduler.handle().shutdown();
    const shutdown = await settle(
      clock,
      scheduler.run(
        Job.withoutDeps(
          "early-2",
          Schedule.interval(10),
          Task.fromSync(() => {}),
        ),
      ),
    );
    assert.equal(shutdown.stopReason, "shutdown");
  });
});

Deno.test("a cancel during a shutdown upgrades it; a shutdown after a cancel keeps it", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    let aborted = false;
    const job = Job.withoutDeps(
      "upgrade",
      Schedule.interval(10),
      Task.fromAsync(async ({ signal }) => {
        handle.shutdown();
        await delay(10);
        handle.cancel();
        aborted = signal.aborted;
        handle.shutdown();
      }),
    );
    const report = await settle(clock, scheduler.run(job));
    assert.equal(aborted, true);
    assert.equal(report.stopReason, "cancelled");
  });
});
