/**
 * At-least-once delivery in one process, on a fake clock: the delivery
 * option, the guard capability it needs, reclaiming a dead holder's run at
 * `run()` start (before newer occurrences, replayed, higher fencing token),
 * and waiting at the end for a run another instance still holds.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  type ExecutionGuard,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  type RunContext,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { type FakeClock, withFakeClock } from "./_fake_time.ts";
import { drive, type KvIo, withClockAndKv } from "./_kv_helpers.ts";
import { recordEvents, settle, T0 } from "./_engine_helpers.ts";

const LEASE = { ttlMs: 1_000, renewIntervalMs: 300 };

function recordingTask(runs: RunContext[]) {
  return Task.fromSync<undefined>(({ run }) => void runs.push(run));
}

Deno.test("Job delivery: at-most-once by default; withDelivery validates its value", () => {
  const job = Job.withoutDeps(
    "a",
    Schedule.interval(10),
    Task.fromSync(() => {}),
  );
  assert.equal(job.delivery, "at-most-once");
  assert.equal(job.withDelivery("at-least-once").delivery, "at-least-once");
  assert.throws(
    () => job.withDelivery("exactly-once" as never),
    (error) =>
      error instanceof InvalidJobError && error.kind === "other" &&
      /delivery must be one of "at-most-once", "at-least-once", got "exactly-once"/
        .test(error.message),
  );
});

Deno.test("at-least-once with a guard that has no in-flight ledger: run() rejects with InvalidJobError, stopped as failed", async () => {
  const guard: ExecutionGuard = {
    acquire: (slot) =>
      Promise.resolve({
        kind: "acquired",
        lease: { ...slot, token: "t", leaseKey: "k" },
      }),
    renew: () => Promise.resolve("renewed"),
    release: () => Promise.resolve(),
  };
  const scheduler = Scheduler.withExecutionGuard(
    {},
    new InMemoryStateStore(),
    guard,
  );
  const events = recordEvents(scheduler);
  const job = Job.withoutDeps(
    "needs-ledger",
    Schedule.interval(10),
    Task.fromSync(() => {}),
  ).withDelivery("at-least-once");
  await assert.rejects(
    () => scheduler.run(job),
    (error) =>
      error instanceof InvalidJobError && error.kind === "other" &&
      error.message.includes('"needs-ledger"') &&
      error.message.includes("in-flight ledger"),
  );
  assert.deepEqual(events.map((event) => event.type), ["scheduler-stopped"]);
});

Deno.test("at-least-once on the single-instance guard: runs as at-most-once does, nothing replayed", async () => {
  await withFakeClock(T0, async (clock) => {
    const runs: RunContext[] = [];
    const job = Job.withoutDeps(
      "memory",
      Schedule.atTimes([T0 + 10, T0 + 20, T0 + 30]),
      recordingTask(runs),
    ).withDelivery("at-least-once");
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(
      runs.map((run) => [run.scheduledAt.getTime(), run.replayed]),
      [[T0 + 10, undefined], [T0 + 20, undefined], [T0 + 30, undefined]],
    );
  });
});

function withKvGuard(
  body: (
    guard: DenoKvExecutionGuard,
    clock: FakeClock,
    io: KvIo,
  ) => Promise<void>,
) {
  return withClockAndKv((kv, clock, io) =>
    body(new DenoKvExecutionGuard(kv, LEASE), clock, io)
  );
}

Deno.test("at-least-once, KV guard: run() start reclaims a dead holder's run first (replayed, higher fencing token), then newer occurrences", async () => {
  await withKvGuard(async (guard, clock, io) => {
    // An instance took the occurrence at T0 - 500 and died with it.
    const dead = await guard.inFlight.acquire({
      jobId: "bill",
      scheduledAt: new Date(T0 - 500),
      triggerCount: 7,
      catchUp: false,
    });
    assert.equal(dead.kind, "acquired");
    await clock.tickAsync(LEASE.ttlMs + 1);
    const start = Date.now();
    const runs: RunContext[] = [];
    const scheduler = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    );
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps(
      "bill",
      Schedule.atTimes([start + 100]),
      recordingTask(runs),
    ).withDelivery("at-least-once");
    const report = await drive(clock, scheduler.run(job), io);
    assert.equal(report.stopReason, "terminal");
    assert.ok(dead.kind === "acquired");
    const deadToken = dead.lease.fencingToken!;
    assert.deepEqual(
      runs.map((run) => [
        run.scheduledAt.getTime(),
        run.triggerCount,
        run.replayed,
        run.fencingToken,
      ]),
      [
        [T0 - 500, 7, true, deadToken + 1n],
        [start + 100, 1, undefined, deadToken + 2n],
      ],
    );
    const types = events.map((event) => event.type);
    assert.deepEqual(types.slice(0, 4), [
      "state-loaded",
      "run-reclaimed",
      "run-started",
      "run-completed",
    ]);
    const reclaimed = events[1];
    assert.ok(reclaimed.type === "run-reclaimed");
    assert.equal(reclaimed.previousFencingToken, deadToken);
    assert.equal(reclaimed.fencingToken, deadToken + 1n);
    assert.equal(reclaimed.triggerCount, 7);
    assert.deepEqual(reclaimed.scheduledAt, new Date(T0 - 500));
    assert.deepEqual(await guard.inFlight.list("bill"), [], "all cleared");
    assert.equal(report.history.length, 2);
    // The replay is marked in its record and its run events too.
    assert.deepEqual(report.history.map((run) => run.replayed), [
      true,
      undefined,
    ]);
    for (const type of ["run-started", "run-completed"] as const) {
      assert.deepEqual(
        events.filter((event) => event.type === type).map((event) =>
          (event as { replayed?: true }).replayed
        ),
        [true, undefined],
        type,
      );
    }
  });
});

/**
 * A job with one occurrence at T0 + 100 that another instance already
 * holds (through the same KV guard); its lease lasts until T0 + ttl.
 */
async function heldElsewhere(guard: DenoKvExecutionGuard, jobId: string) {
  const runs: RunContext[] = [];
  const scheduler = Scheduler.withExecutionGuard(
    {},
    new InMemoryStateStore(),
    guard,
  );
  const job = Job.withoutDeps(
    jobId,
    Schedule.atTimes([T0 + 100]),
    recordingTask(runs),
  ).withDelivery("at-least-once");
  const other = await guard.inFlight.acquire({
    jobId,
    scheduledAt: new Date(T0 + 100),
    triggerCount: 1,
    catchUp: false,
  });
  assert.ok(other.kind === "acquired");
  return { runs, scheduler, job, other: other.lease };
}

Deno.test("at-least-once, KV guard: at its end, run() waits for a run another instance holds and reclaims it when that holder dies", async () => {
  await withKvGuard(async (guard, clock, io) => {
    // The other instance dies holding the last occurrence.
    const { runs, scheduler, job } = await heldElsewhere(guard, "tail");
    const report = await drive(clock, scheduler.run(job), io);
    assert.equal(report.stopReason, "terminal");
    assert.ok(
      Date.now() >= T0 + LEASE.ttlMs,
      "it waited for the other lease to run out",
    );
    assert.deepEqual(
      runs.map((run) => [run.scheduledAt.getTime(), run.replayed]),
      [[T0 + 100, true]],
      "contended at first, then replayed once",
    );
  });
});

Deno.test("at-least-once, KV guard: a run another instance completes in time is not replayed; run() ends after it", async () => {
  await withKvGuard(async (guard, clock, io) => {
    const { runs, scheduler, job, other } = await heldElsewhere(
      guard,
      "handover",
    );
    setTimeout(() => guard.inFlight.complete(other), 500);
    const report = await drive(clock, scheduler.run(job), io);
    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(runs, [], "the other instance ran it");
    assert.deepEqual(await guard.inFlight.list("handover"), []);
  });
});

Deno.test("at-least-once, KV guard: a run aborted by cancel() is given back, and the next run() replays it first", async () => {
  await withKvGuard(async (guard, clock, io) => {
    const store = new InMemoryStateStore();
    const runs: RunContext[] = [];
    const job = Job.withoutDeps(
      "deploy",
      Schedule.atTimes([T0 + 100, T0 + 60_000]),
      Task.fromAsync(async ({ run, signal }) => {
        runs.push(run);
        if (run.replayed || run.triggerCount > 1) return;
        signal.throwIfAborted(); // cancelled from the run-started listener
        await new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason))
        );
      }),
    ).withDelivery("at-least-once");
    const first = Scheduler.withExecutionGuard({}, store, guard);
    first.addEventListener("run-started", () => first.handle().cancel());
    const cancelled = await drive(clock, first.run(job), io);
    assert.equal(cancelled.stopReason, "cancelled");
    assert.equal(cancelled.history[0].status, "cancelled");
    const [record] = await guard.inFlight.list("deploy");
    assert.deepEqual(record.scheduledAt, new Date(T0 + 100));
    assert.equal(record.remainingMs, 0, "handed back, not done");
    const second = Scheduler.withExecutionGuard({}, store, guard);
    const report = await drive(clock, second.run(job), io);
    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(
      runs.map((run) => [run.scheduledAt.getTime(), run.replayed]),
      [[T0 + 100, undefined], [T0 + 100, true], [T0 + 60_000, undefined]],
    );
    assert.deepEqual(await guard.inFlight.list("deploy"), []);
  });
});

Deno.test("at-least-once, KV guard: a cancel during a retry's backoff gives the occurrence back, a shutdown completes it", async () => {
  for (const stop of ["cancel", "shutdown"] as const) {
    await withKvGuard(async (guard, clock, io) => {
      const scheduler = Scheduler.withExecutionGuard(
        {},
        new InMemoryStateStore(),
        guard,
      );
      const job = Job.withoutDeps(
        `backoff-${stop}`,
        Schedule.atTimes([Date.now() + 100]),
        Task.fromSync(() => {
          // Stopped while the retry waits: after this failed attempt.
          setTimeout(() => scheduler.handle()[stop](), 500);
          throw new Error("fails");
        }),
      )
        .withRetry({ attempts: 3, backoffMs: [2_000] })
        .withDelivery("at-least-once");
      const report = await drive(clock, scheduler.run(job), io);
      assert.deepEqual(report.history.map((run) => run.status), ["failed"]);
      const left = await guard.inFlight.list(`backoff-${stop}`);
      assert.equal(
        left.length,
        stop === "cancel" ? 1 : 0,
        `${stop}: ${left.length} in-flight record(s) left`,
      );
    });
  }
});
