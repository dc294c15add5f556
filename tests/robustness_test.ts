/** Limits found by review: sizes, long intervals, odd years, odd names. */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  DenoKvStateStore,
  type ExecutionGuard,
  ExecutionGuardError,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { parseRfc3339 } from "../src/schedule/_rfc3339.ts";
import { MAX_RECORDED_ERROR_LENGTH } from "../src/errors.ts";
import { withFakeClock } from "./_fake_time.ts";
import { delay, settle, T0 } from "./_engine_helpers.ts";

Deno.test("a huge failure message is cut, so the state still fits in Deno KV", async () => {
  const store = await DenoKvStateStore.open(":memory:");
  try {
    const report = await new Scheduler({}, store).run(
      Job.withoutDeps(
        "huge-error",
        Schedule.atTimes([Date.now() + 5]),
        Task.fromSync(() => {
          throw "x".repeat(70_000);
        }),
      ),
    );
    const error = report.history[0].error!;
    assert.equal(report.history[0].status, "failed");
    assert.ok(error.length < MAX_RECORDED_ERROR_LENGTH + 40, `${error.length}`);
    assert.match(error, /… \(65904 more characters\)$/);
    assert.equal((await store.load("huge-error"))?.lastError, error);
  } finally {
    store.close();
  }
});

Deno.test("a renew interval beyond an hour arms hour-long timers, not a spinning loop", async () => {
  await withFakeClock(T0, async (clock) => {
    let renewals = 0;
    const guard: ExecutionGuard = {
      acquire: (slot) =>
        Promise.resolve({
          kind: "acquired",
          lease: { ...slot, token: "t", leaseKey: "k" },
        }),
      renew: () => {
        renewals++;
        return Promise.resolve("renewed");
      },
      release: () => Promise.resolve(),
      renewIntervalMs: () => 2 ** 31, // would overflow setTimeout
    };
    const report = await settle(
      clock,
      Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard).run(
        Job.withoutDeps(
          "long-renew",
          Schedule.interval(10),
          Task.fromAsync(() => delay(3 * 3_600_000 + 5)),
        ).withMaxRuns(1),
      ),
    );
    assert.equal(report.history.length, 1);
    assert.equal(renewals, 3, "once an hour during a 3-hour run");
  });
});

Deno.test("lease configs beyond 365 days are refused at construction", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    assert.throws(
      () =>
        new DenoKvExecutionGuard(kv, {
          ttlMs: 60_000,
          renewIntervalMs: 1_000,
          completedRetentionMs: Number.MAX_SAFE_INTEGER,
        }),
      (error: unknown) =>
        error instanceof ExecutionGuardError && error.kind === "data" &&
        error.message.includes("completedRetentionMs"),
    );
  } finally {
    kv.close();
  }
});

Deno.test("a listener re-added with a new signal survives the old signal's abort", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    let calls = 0;
    const listener = () => void calls++;
    const first = new AbortController();
    const second = new AbortController();
    scheduler.addEventListener("run-completed", listener, {
      signal: first.signal,
    });
    scheduler.removeEventListener("run-completed", listener);
    scheduler.addEventListener("run-completed", listener, {
      signal: second.signal,
    });
    first.abort();
    await settle(
      clock,
      scheduler.run(
        Job.withoutDeps(
          "listener",
          Schedule.interval(10),
          Task.fromSync(() => {}),
        )
          .withMaxRuns(2),
      ),
    );
    assert.equal(calls, 2);
  });
});

Deno.test("RFC 3339 years 0000-0099 are read as written, not as the 1900s", () => {
  assert.equal(
    new Date(parseRfc3339("0050-01-01T00:00:00Z")!).toISOString(),
    "0050-01-01T00:00:00.000Z",
  );
  assert.equal(
    new Date(parseRfc3339("0000-03-01T12:00:00+01:00")!).toISOString(),
    "0000-03-01T11:00:00.000Z",
  );
});

Deno.test("instants a stored state cannot hold are refused or end the schedule", async () => {
  assert.throws(
    () => Schedule.atTimes([Date.UTC(10000, 0, 1)]),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "other" &&
      error.message.includes("0000-9999"),
  );
  // An interval whose next run would pass 9999-12-31 ends the schedule.
  await withFakeClock(
    Date.UTC(9999, 11, 31, 23, 59, 59, 900),
    async (clock) => {
      const report = await settle(
        clock,
        new Scheduler({}, new InMemoryStateStore()).run(
          Job.withoutDeps(
            "last-second",
            Schedule.interval(50),
            Task.fromSync(() => {}),
          ),
        ),
      );
      assert.equal(report.history.length, 1);
      assert.equal(report.state.nextRunAt, null);
      assert.equal(report.stopReason, "terminal");
    },
  );
});

Deno.test("a KV guard data error is not retried as contention when the job id says busy", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const guard = new DenoKvExecutionGuard(kv, {
      ttlMs: 1000,
      renewIntervalMs: 300,
    });
    const scheduledAt = new Date(T0);
    await kv.set(
      ["scheduler", "execution-lease", "lease", "busy-report", T0],
      "corrupt",
    );
    const started = performance.now();
    await assert.rejects(
      guard.acquire({ jobId: "busy-report", scheduledAt }),
      (error: unknown) =>
        error instanceof ExecutionGuardError && error.kind === "data",
    );
    assert.ok(performance.now() - started < 1000, "failed at once");
  } finally {
    kv.close();
  }
});
