/**
 * Task outcomes: success, failure with a readable message for
 * whatever was thrown, cancellation, the effect on the job state, and the
 * context every run receives.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  Job,
  type RunContext,
  Schedule,
  Scheduler,
  type SchedulerReport,
  Task,
  type TaskContext,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { delay, recordEvents, settle, T0 } from "./_engine_helpers.ts";

/** Runs `task` once (interval 1 s, maxRuns 1) on a fake clock and returns the report. */
function runOnce(task: Task<undefined>): Promise<SchedulerReport> {
  return withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const job = Job.withoutDeps("outcome", Schedule.interval(1000), task)
      .withMaxRuns(1);
    return await settle(clock, scheduler.run(job), 10_000);
  });
}

/** Collects unhandled promise rejections while `body` runs (and a little after). */
async function catchingUnhandled(
  body: () => Promise<void>,
): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    await body();
    // Give the runtime a macrotask to report rejections left unhandled.
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
  return unhandled;
}

/** Asserts the single run failed with `expected` (string: exact; function: check). */
function assertFailedWith(
  report: SchedulerReport,
  expected: string | ((error: string) => void),
): void {
  assert.equal(report.stopReason, "terminal");
  assert.equal(report.history.length, 1);
  const [record] = report.history;
  assert.equal(record.status, "failed");
  assert.equal(
    typeof record.error,
    "string",
    `error must be a string, got ${typeof record.error}`,
  );
  const error = record.error as string;
  assert.ok(error.trim().length > 0, "error must not be empty");
  if (typeof expected === "string") assert.equal(error, expected);
  else expected(error);
  assert.equal(
    report.state.lastError,
    error,
    "state.lastError is the run's error",
  );
  assert.equal(report.state.lastSuccessAt, null);
  assert.deepEqual(report.state.lastRunAt, record.startedAt);
  assert.equal(report.state.triggerCount, 1);
}

// ---------------------------------------------------------------------------
// What was thrown → the recorded message

Deno.test("outcome: a thrown Error is failed with its message", async () => {
  const report = await runOnce(Task.fromAsync(async () => {
    await Promise.resolve();
    throw new Error("disk full");
  }));
  assertFailedWith(report, "disk full");
});

Deno.test("outcome: an Error subclass is failed with its message", async () => {
  class QuotaError extends Error {}
  const report = await runOnce(
    Task.fromAsync(() => Promise.reject(new QuotaError("quota exceeded"))),
  );
  assertFailedWith(report, "quota exceeded");
});

Deno.test("outcome: an Error without a message is still recorded with a non-empty error", async () => {
  const report = await runOnce(
    Task.fromAsync(() => Promise.reject(new TypeError())),
  );
  assertFailedWith(report, (error) => assert.match(error, /TypeError/));
});

Deno.test("outcome: a rejected string is failed with that string", async () => {
  const report = await runOnce(Task.fromAsync(() => Promise.reject("boom")));
  assertFailedWith(report, "boom");
});

Deno.test("outcome: a non-async function given to fromAsync that throws synchronously is failed", async () => {
  const report = await runOnce(Task.fromAsync(
    (() => {
      throw new Error("sync throw in fromAsync");
    }) as () => Promise<void>,
  ));
  assertFailedWith(report, "sync throw in fromAsync");
});

Deno.test("outcome: throwing undefined is failed with a readable message", async () => {
  const report = await runOnce(Task.fromAsync(async () => {
    await Promise.resolve();
    throw undefined;
  }));
  assertFailedWith(report, (error) => assert.match(error, /undefined/));
});

Deno.test("outcome: throwing null is failed with a readable message", async () => {
  const report = await runOnce(Task.fromAsync(async () => {
    await Promise.resolve();
    throw null;
  }));
  assertFailedWith(report, (error) => assert.match(error, /null/));
});

Deno.test("outcome: a thrown plain object is failed with its JSON", async () => {
  const report = await runOnce(Task.fromAsync(async () => {
    await Promise.resolve();
    throw { code: 42 };
  }));
  assertFailedWith(report, '{"code":42}');
});

Deno.test("outcome: a thrown object with a message property is failed with that message", async () => {
  const report = await runOnce(Task.fromAsync(async () => {
    await Promise.resolve();
    throw { message: "remote said no", status: 503 };
  }));
  assertFailedWith(
    report,
    (error) => assert.ok(error.includes("remote said no"), error),
  );
});

Deno.test("outcome: an object whose toString throws and that JSON cannot render is failed with a readable message", async () => {
  const hostile = {
    big: 10n,
    toString(): string {
      throw new Error("toString exploded");
    },
  };
  const report = await runOnce(Task.fromAsync(async () => {
    await Promise.resolve();
    throw hostile;
  }));
  assertFailedWith(
    report,
    (error) => assert.ok(!error.includes("exploded"), error),
  );
});

Deno.test("outcome: a thrown number is failed with the number", async () => {
  const report = await runOnce(Task.fromAsync(async () => {
    await Promise.resolve();
    throw 7;
  }));
  assertFailedWith(report, (error) => assert.ok(error.includes("7"), error));
});

Deno.test("outcome: an Error whose message was replaced by a non-string still records a string error", async () => {
  const weird = new Error("original");
  (weird as unknown as { message: unknown }).message = 42;
  const report = await runOnce(Task.fromAsync(() => Promise.reject(weird)));
  assertFailedWith(report, (error) => assert.ok(error.includes("42"), error));
});

Deno.test("outcome: a thrown object whose message getter throws is failed, not a hang", async () => {
  const trap = {
    get message(): string {
      throw new Error("message getter exploded");
    },
  };
  let report: SchedulerReport | undefined;
  const unhandled = await catchingUnhandled(async () => {
    report = await runOnce(Task.fromAsync(() => Promise.reject(trap)));
  });
  assert.deepEqual(unhandled.map(String), [], "no unhandled rejection");
  assertFailedWith(report!, () => {});
});

// ---------------------------------------------------------------------------
// fromSync

Deno.test("outcome: a fromSync function that throws is failed", async () => {
  const report = await runOnce(Task.fromSync(() => {
    throw new Error("sync failure");
  }));
  assertFailedWith(report, "sync failure");
});

Deno.test("outcome: a fromSync function that returns a rejected promise is failed, not an unhandled rejection", async () => {
  let report: SchedulerReport | undefined;
  const unhandled = await catchingUnhandled(async () => {
    report = await runOnce(
      Task.fromSync(
        (() => Promise.reject(new Error("late sync failure"))) as () => void,
      ),
    );
  });
  assert.deepEqual(unhandled.map(String), [], "no unhandled rejection");
  assertFailedWith(report!, "late sync failure");
});

Deno.test("outcome: a fromSync function is success when it returns", async () => {
  let calls = 0;
  const report = await runOnce(Task.fromSync(() => {
    calls++;
  }));
  assert.equal(calls, 1);
  assert.equal(report.history[0].status, "success");
  assert.equal(report.history[0].error, null);
  assert.equal(report.state.lastError, null);
});

// ---------------------------------------------------------------------------
// State across runs

Deno.test("outcome: the scheduler goes on after a failure; a later success clears lastError", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    const statesAfterRun: (string | null)[] = [];
    scheduler.addEventListener("run-completed", () => {
      void store.load("flaky").then((state) =>
        statesAfterRun.push(state?.lastError ?? null)
      );
    });
    const task = Task.fromAsync(async ({ run }) => {
      await delay(100);
      if (run.triggerCount === 2) {
        throw new Error(`run ${run.triggerCount} broke`);
      }
    });
    const job = Job.withoutDeps("flaky", Schedule.interval(1000), task)
      .withMaxRuns(3);
    const report = await settle(clock, scheduler.run(job));

    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(report.history.map((r) => r.status), [
      "success",
      "failed",
      "success",
    ]);
    assert.deepEqual(report.history.map((r) => r.error), [
      null,
      "run 2 broke",
      null,
    ]);
    assert.deepEqual(report.history.map((r) => r.triggerCount), [1, 2, 3]);
    assert.deepEqual(
      report.history.map((r) => r.scheduledAt.getTime()),
      [T0 + 1000, T0 + 2000, T0 + 3000],
    );
    assert.equal(report.state.triggerCount, 3);
    assert.equal(
      report.state.lastError,
      null,
      "the success after the failure cleared lastError",
    );
    assert.deepEqual(report.state.lastRunAt, new Date(T0 + 3000));
    assert.deepEqual(
      report.state.lastSuccessAt,
      new Date(T0 + 3100),
      "lastSuccessAt = finish",
    );
    assert.deepEqual(report.state.lastSuccessAt, report.history[2].finishedAt);

    const completed = events.filter((e) => e.type === "run-completed");
    assert.deepEqual(
      completed.map((e) =>
        e.type === "run-completed" ? [e.status, e.error] : []
      ),
      [["success", null], ["failed", "run 2 broke"], ["success", null]],
    );
    // The persisted state follows the same path: set by the failure, cleared after.
    assert.deepEqual(statesAfterRun, [null, "run 2 broke", null]);
    const stored = await store.load("flaky");
    assert.equal(stored?.lastError, null);
    assert.deepEqual(stored?.lastSuccessAt, new Date(T0 + 3100));
  });
});

Deno.test("outcome: lastError holds the newest failure and lastSuccessAt the last success", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const task = Task.fromAsync(async ({ run }) => {
      await delay(10);
      if (run.triggerCount >= 2) throw new Error(`failure ${run.triggerCount}`);
    });
    const job = Job.withoutDeps("fails-late", Schedule.interval(1000), task)
      .withMaxRuns(3);
    const report = await settle(clock, scheduler.run(job));
    assert.deepEqual(report.history.map((r) => r.status), [
      "success",
      "failed",
      "failed",
    ]);
    assert.equal(report.state.lastError, "failure 3");
    assert.deepEqual(report.state.lastSuccessAt, new Date(T0 + 1010));
    assert.deepEqual(report.state.lastRunAt, new Date(T0 + 3000));
  });
});

// ---------------------------------------------------------------------------
// Cancellation

/** A task that waits for its signal and rejects with the abort reason. */
function waitForAbort(
  seen: { reason?: unknown; started: number },
): Task<undefined> {
  return Task.fromAsync(({ signal }) => {
    seen.started++;
    return new Promise<void>((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), {
        once: true,
      });
    });
  });
}

Deno.test("outcome: a task rejecting after handle.cancel() aborted its signal is cancelled", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const seen: { reason?: unknown; started: number } = { started: 0 };
    const job = Job.withoutDeps(
      "to-cancel",
      Schedule.interval(1000),
      waitForAbort(seen),
    );
    setTimeout(() => scheduler.handle().cancel(), 1500);
    const report = await settle(clock, scheduler.run(job));

    assert.equal(seen.started, 1);
    assert.equal(report.stopReason, "cancelled");
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, "cancelled");
    assert.deepEqual(report.history[0].finishedAt, new Date(T0 + 1500));
    const completed = events.find((e) => e.type === "run-completed");
    assert.equal(
      completed?.type === "run-completed" ? completed.status : undefined,
      "cancelled",
    );
    const types = events.map((e) => e.type);
    assert.ok(
      types.indexOf("run-completed") < types.indexOf("scheduler-stopped"),
    );
  });
});

Deno.test("outcome: cancel(reason) aborts the task's signal with that reason; the run is cancelled", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    let signalReason: unknown;
    const task = Task.fromAsync(({ signal }) =>
      new Promise<void>((_, reject) => {
        signal.addEventListener("abort", () => {
          signalReason = signal.reason;
          reject(new Error("gave up"));
        }, { once: true });
      })
    );
    const reason = new Error("deploying");
    setTimeout(() => scheduler.handle().cancel(reason), 1200);
    const job = Job.withoutDeps("reasoned", Schedule.interval(1000), task);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(signalReason, reason);
    assert.equal(report.stopReason, "cancelled");
    assert.equal(report.history[0].status, "cancelled");
  });
});

Deno.test("outcome: aborting the run() signal option cancels the in-flight task", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const seen: { reason?: unknown; started: number } = { started: 0 };
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("caller gave up")), 1700);
    const job = Job.withoutDeps(
      "signal-cancel",
      Schedule.interval(1000),
      waitForAbort(seen),
    );
    const report = await settle(
      clock,
      scheduler.run(job, { signal: controller.signal }),
    );
    assert.equal(report.stopReason, "cancelled");
    assert.deepEqual(report.history.map((r) => r.status), ["cancelled"]);
  });
});

Deno.test("outcome: a task that fails on its own (signal not aborted) is failed even while others are cancelled later", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const task = Task.fromAsync(async ({ run, signal }) => {
      if (run.triggerCount === 1) {
        await delay(10);
        throw new Error("first failed");
      }
      await new Promise<void>((_, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), {
          once: true,
        });
      });
    });
    setTimeout(() => scheduler.handle().cancel(), 2500);
    const job = Job.withoutDeps("mixed", Schedule.interval(1000), task);
    const report = await settle(clock, scheduler.run(job));
    assert.deepEqual(report.history.map((r) => r.status), [
      "failed",
      "cancelled",
    ]);
    assert.equal(report.history[0].error, "first failed");
    assert.equal(report.state.lastError, "first failed");
  });
});

// ---------------------------------------------------------------------------
// The TaskContext

Deno.test("context: run facts, deps by identity and a live signal", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler(
      { timezone: "Europe/Berlin" },
      new InMemoryStateStore(),
    );
    const deps = { db: { name: "primary" }, counter: 0 };
    const contexts: TaskContext<typeof deps>[] = [];
    const snapshots: {
      aborted: boolean;
      isSignal: boolean;
      depsSame: boolean;
    }[] = [];
    const task = Task.fromAsync<typeof deps>(async (ctx) => {
      contexts.push(ctx);
      snapshots.push({
        aborted: ctx.signal.aborted,
        isSignal: ctx.signal instanceof AbortSignal,
        depsSame: ctx.deps === deps,
      });
      ctx.deps.counter++;
      await delay(50);
      assert.equal(
        ctx.signal.aborted,
        false,
        "not aborted during a normal run",
      );
    });
    const job = new Job("ctx-job", Schedule.interval(1000), deps, task)
      .withMaxRuns(2);
    const report = await settle(clock, scheduler.run(job));

    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(report.history.map((r) => r.status), [
      "success",
      "success",
    ]);
    assert.equal(contexts.length, 2);
    assert.equal(
      deps.counter,
      2,
      "both runs saw and mutated the same deps object",
    );
    for (const [index, ctx] of contexts.entries()) {
      const run: RunContext = ctx.run;
      assert.equal(run.jobId, "ctx-job");
      assert.ok(run.scheduledAt instanceof Date);
      assert.equal(run.scheduledAt.getTime(), T0 + 1000 * (index + 1));
      assert.equal(run.catchUp, false);
      assert.equal(run.timezone, "Europe/Berlin");
      assert.equal(run.triggerCount, index + 1);
      assert.equal(
        run.fencingToken,
        undefined,
        "the default guard grants no fencing token",
      );
      assert.equal(ctx.deps, deps);
      assert.deepEqual(snapshots[index], {
        aborted: false,
        isSignal: true,
        depsSame: true,
      });
      assert.deepEqual(report.history[index].scheduledAt, run.scheduledAt);
    }
    assert.notEqual(
      contexts[0].signal,
      contexts[1].signal,
      "each run has its own signal",
    );
  });
});

Deno.test("context: the default timezone is UTC", async () => {
  let timezone: string | undefined;
  await runOnce(Task.fromSync(({ run }) => {
    timezone = run.timezone;
  }));
  assert.equal(timezone, "UTC");
});

Deno.test("context: scheduledAt is the planned instant and catchUp is set for a late occurrence", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler(
      { timezone: "Asia/Tokyo" },
      new InMemoryStateStore(),
    );
    const seen: RunContext[] = [];
    const planned = [T0 - 5000, T0 + 2500];
    const task = Task.fromSync(({ run }) => {
      seen.push(run);
    });
    const job = Job.withoutDeps("at-times", Schedule.atTimes(planned), task);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, "terminal");
    assert.equal(seen.length, 2);
    // Already 5 s overdue at start-up: runs at once, late → catch-up.
    assert.equal(seen[0].scheduledAt.getTime(), T0 - 5000);
    assert.equal(seen[0].catchUp, true);
    assert.equal(seen[0].triggerCount, 1);
    assert.deepEqual(report.history[0].startedAt, new Date(T0));
    // On time: exactly the planned instant, not a catch-up.
    assert.equal(seen[1].scheduledAt.getTime(), T0 + 2500);
    assert.equal(seen[1].catchUp, false);
    assert.equal(seen[1].triggerCount, 2);
    for (const run of seen) {
      assert.equal(run.timezone, "Asia/Tokyo");
      assert.equal(run.jobId, "at-times");
    }
  });
});

Deno.test("context: a fromSync task gets the same context", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler(
      { timezone: "America/New_York" },
      new InMemoryStateStore(),
    );
    const deps = ["a", "b"];
    let ctxSeen: TaskContext<string[]> | undefined;
    const job = new Job(
      "sync-ctx",
      Schedule.interval(250),
      deps,
      Task.fromSync<string[]>((ctx) => {
        ctxSeen = ctx;
      }),
    ).withMaxRuns(1);
    await settle(clock, scheduler.run(job));
    assert.ok(ctxSeen);
    assert.equal(ctxSeen.deps, deps);
    assert.equal(ctxSeen.run.jobId, "sync-ctx");
    assert.equal(ctxSeen.run.scheduledAt.getTime(), T0 + 250);
    assert.equal(ctxSeen.run.timezone, "America/New_York");
    assert.equal(ctxSeen.run.triggerCount, 1);
    assert.equal(ctxSeen.run.catchUp, false);
    assert.ok(ctxSeen.signal instanceof AbortSignal);
    assert.equal(ctxSeen.signal.aborted, false);
  });
});
