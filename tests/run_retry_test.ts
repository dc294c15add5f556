/**
 * Retries (in memory, fake time): the same occurrence and lease,
 * backoff, the next-occurrence rule, timeouts, overlap and stopping.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  InvalidJobError,
  Job,
  OverlapPolicy,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { ofType, recordEvents, settle, T0 } from "./_engine_helpers.ts";
import { SlotGuard } from "./_slot_guard.ts";

/**
 * On the 10 s grid: under a shared guard an interval starts on the epoch
 * grid (docs/recovery.md), so the first run is START + 10 s.
 */
const START = T0 - (T0 % 10_000);

Deno.test("retry: a failed run is retried on the same occurrence and lease with the backoff; every attempt is recorded; maxRuns counts occurrences", async () => {
  await withFakeClock(START, async (clock) => {
    const guard = new SlotGuard({ renewIntervalMs: 50 });
    const scheduler = new Scheduler({}, new InMemoryStateStore(), { guard });
    const events = recordEvents(scheduler);
    const seen: { attempt: number; at: number; token?: bigint }[] = [];
    const job = Job.withoutDeps(
      "flaky",
      Schedule.interval(10_000),
      Task.fromSync(({ run }) => {
        seen.push({
          attempt: run.attempt,
          at: Date.now(),
          token: run.fencingToken,
        });
        if (run.attempt < 3) throw new Error(`boom ${run.attempt}`);
      }),
    ).withRetry({ attempts: 3, backoffMs: [100, 200] }).withMaxRuns(2);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.state.triggerCount, 2);
    assert.deepEqual(seen.map((s) => [s.attempt, s.at - START]), [
      [1, 10_000],
      [2, 10_100],
      [3, 10_300],
      [1, 20_000],
      [2, 20_100],
      [3, 20_300],
    ]);
    // One lease per occurrence, the same for every attempt.
    assert.deepEqual(seen.map((s) => s.token), [1n, 1n, 1n, 2n, 2n, 2n]);
    assert.equal(guard.ofOp("acquire").length, 2);
    assert.deepEqual(guard.ofOp("release").map((c) => c.at - START), [
      10_300,
      20_300,
    ]);
    assert.deepEqual(
      report.history.map((r) => [r.scheduledAt.getTime() - START, r.attempt]),
      [
        [10_000, undefined],
        [10_000, 2],
        [10_000, 3],
        [20_000, undefined],
        [20_000, 2],
        [20_000, 3],
      ],
    );
    assert.deepEqual(report.history.map((r) => r.status), [
      "failed",
      "failed",
      "success",
      "failed",
      "failed",
      "success",
    ]);
    assert.equal(report.state.lastError, null);
    const retrying = ofType(events, "run-retrying");
    assert.deepEqual(retrying.slice(0, 2), [
      {
        type: "run-retrying",
        jobId: "flaky",
        scheduledAt: new Date(START + 10_000),
        catchUp: false,
        triggerCount: 1,
        attempt: 2,
        delayMs: 100,
        error: "boom 1",
      },
      {
        type: "run-retrying",
        jobId: "flaky",
        scheduledAt: new Date(START + 10_000),
        catchUp: false,
        triggerCount: 1,
        attempt: 3,
        delayMs: 200,
        error: "boom 2",
      },
    ]);
    // run-retrying follows the completion of the attempt it retries.
    const order = events
      .filter((e) => e.type === "run-completed" || e.type === "run-retrying")
      .slice(0, 3)
      .map((e) => `${e.type}:${(e as { attempt?: number }).attempt ?? 1}`);
    assert.deepEqual(order, [
      "run-completed:1",
      "run-retrying:2",
      "run-completed:2",
    ]);
    assert.deepEqual(
      ofType(events, "run-started").slice(0, 3).map((e) => e.attempt),
      [undefined, 2, 3],
    );
  });
});

Deno.test("retry: the last attempt's failure stands when attempts run out; backoffMs as a function gets the attempt about to start", async () => {
  await withFakeClock(T0, async (clock) => {
    const asked: number[] = [];
    const job = Job.withoutDeps(
      "always-fails",
      Schedule.atTimes([T0 + 10]),
      Task.fromSync(({ run }) => {
        throw new Error(`attempt ${run.attempt}`);
      }),
    ).withRetry({
      attempts: 4,
      backoffMs: (attempt) => {
        asked.push(attempt);
        return attempt * 10;
      },
    });
    const report = await settle(
      clock,
      new Scheduler({}, new InMemoryStateStore()).run(job),
    );
    assert.deepEqual(asked, [2, 3, 4]);
    assert.deepEqual(
      report.history.map((r) => r.startedAt.getTime() - T0),
      [10, 30, 60, 100],
    );
    assert.equal(report.state.lastError, "attempt 4");
    assert.equal(report.state.triggerCount, 1);
  });
});

Deno.test("retry: a backoff function that returns nonsense fails run() with an InvalidJobError naming the job and the value", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps(
      "bad-backoff",
      Schedule.atTimes([T0 + 10]),
      Task.fromSync(() => {
        throw new Error("nope");
      }),
    ).withRetry({ attempts: 2, backoffMs: () => -5 });
    await assert.rejects(
      settle(clock, scheduler.run(job)),
      (error: unknown) =>
        error instanceof InvalidJobError &&
        error.message.includes('"bad-backoff"') &&
        error.message.includes("-5"),
    );
    // The attempt that failed is still recorded and reported.
    assert.equal(ofType(events, "run-completed")[0].error, "nope");
  });
});

Deno.test("retry: a retry never starts past the next occurrence (forbid); the next occurrence runs as usual", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps(
      "bounded",
      Schedule.interval(1_000),
      Task.fromSync(() => {
        throw new Error("down");
      }),
    ).withRetry({ attempts: 5, backoffMs: [600] }).withMaxRuns(2);
    const report = await settle(clock, scheduler.run(job));
    // 1000 fails, retry at 1600 (< 2000), the next retry (2200) is not made.
    assert.deepEqual(
      report.history.map((r) => [
        r.scheduledAt.getTime() - T0,
        r.startedAt.getTime() - T0,
        r.attempt ?? 1,
      ]),
      [
        [1_000, 1_000, 1],
        [1_000, 1_600, 2],
        [2_000, 2_000, 1],
        [
          2_000,
          2_600,
          2,
        ],
        [2_000, 3_200, 3],
        [2_000, 3_800, 4],
        [2_000, 4_400, 5],
      ],
    );
    assert.equal(ofType(events, "run-skipped").length, 0);
  });
});

Deno.test("retry: with allow-parallel a retry may run past the next occurrence, which starts as usual", async () => {
  await withFakeClock(T0, async (clock) => {
    const job = Job.withoutDeps(
      "parallel",
      Schedule.interval(1_000),
      Task.fromSync(() => {
        throw new Error("down");
      }),
    ).withRetry({ attempts: 2, backoffMs: [1_500] })
      .withOverlapPolicy(OverlapPolicy.AllowParallel)
      .withMaxRuns(2);
    const report = await settle(
      clock,
      new Scheduler({}, new InMemoryStateStore()).run(job),
    );
    assert.deepEqual(
      report.history.map((r) => [
        r.scheduledAt.getTime() - T0,
        r.startedAt.getTime() - T0,
      ]),
      [[1_000, 1_000], [2_000, 2_000], [1_000, 2_500], [2_000, 3_500]],
    );
  });
});

Deno.test("timeout + retry: a timed-out attempt is retried with a fresh signal", async () => {
  await withFakeClock(T0, async (clock) => {
    const signals: AbortSignal[] = [];
    const job = Job.withoutDeps(
      "slow-then-fast",
      Schedule.atTimes([T0 + 10]),
      Task.fromAsync(async ({ run, signal }) => {
        signals.push(signal);
        if (run.attempt === 1) {
          await new Promise((resolve) =>
            signal.addEventListener("abort", resolve, { once: true })
          );
          signal.throwIfAborted();
        }
      }),
    ).withRunTimeout(100).withRetry({ attempts: 2, backoffMs: [50] });
    const report = await settle(
      clock,
      new Scheduler({}, new InMemoryStateStore()).run(job),
    );
    assert.deepEqual(report.history.map((r) => r.status), [
      "timed-out",
      "success",
    ]);
    assert.equal(
      report.history[0].error,
      "timed out after 100 ms: the run timed out after 100 ms",
    );
    assert.equal(report.history[1].startedAt.getTime(), T0 + 160);
    assert.equal(signals[0].aborted, true);
    assert.equal(signals[1].aborted, false);
  });
});

Deno.test("retry: shutdown or cancel during a backoff ends the run without another attempt", async () => {
  for (const stop of ["shutdown", "cancel"] as const) {
    await withFakeClock(T0, async (clock) => {
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      let attempts = 0;
      const job = Job.withoutDeps(
        `stop-${stop}`,
        Schedule.atTimes([T0 + 10, T0 + 60_000]),
        Task.fromSync(() => {
          attempts++;
          throw new Error("down");
        }),
      ).withRetry({ attempts: 3, backoffMs: [10_000] });
      const running = scheduler.run(job);
      await clock.tickAsync(5_000);
      scheduler.handle()[stop]();
      const report = await settle(clock, running);
      assert.equal(attempts, 1);
      assert.equal(report.history.length, 1);
      assert.equal(report.stopReason, stop === "cancel" ? "cancelled" : stop);
      assert.ok(Date.now() < T0 + 10_000, "the backoff was cut short");
    });
  }
});

Deno.test("run controls: invalid arguments are InvalidJobErrors naming the value", () => {
  const job = Job.withoutDeps(
    "v",
    Schedule.interval(10),
    Task.fromSync(() => {}),
  );
  const cases: [() => unknown, string][] = [
    [() => job.withRunTimeout(0), "0"],
    [() => job.withRunTimeout(1.5), "1.5"],
    [() => job.withRunTimeout(Number.NaN), "NaN"],
    [() => job.withRetry({ attempts: 0 }), "0"],
    [() => job.withRetry({ attempts: 2, backoffMs: [] }), "[]"],
    [() => job.withRetry({ attempts: 2, backoffMs: [10, -1] }), "-1"],
    [() => job.withRetry(null as never), "null"],
    [() => job.withJitter(-1), "-1"],
    [() => job.withJitter(86_400_001), "86400001"],
  ];
  for (const [build, value] of cases) {
    assert.throws(
      build,
      (error: unknown) =>
        error instanceof InvalidJobError && error.kind === "other" &&
        error.message.includes(value),
      value,
    );
  }
  const controlled = job.withRunTimeout(5).withRetry({
    attempts: 2,
    backoffMs: [1],
  }).withJitter(7);
  assert.equal(controlled.runTimeoutMs, 5);
  assert.equal(controlled.retryPolicy?.attempts, 2);
  assert.equal(controlled.jitterMaxMs, 7);
  assert.equal(job.runTimeoutMs, undefined, "builders return new jobs");
});
