/**
 * Recovery rules in one process, on a fake clock (docs/recovery.md): a
 * replay of a dead holder's occurrence never costs the next scheduled
 * occurrence (under `forbid` it is queued behind the replay), as the pure
 * rule and as the engine carries it out; under a shared guard, interval
 * occurrences fall on one grid whenever each instance starts.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  InMemoryStateStore,
  Job,
  OverlapPolicy,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { overlapBesideReplays } from "../src/scheduler/rules/_reclaim_plan.ts";
import { firstOccurrence } from "../src/schedule/_occurrences.ts";
import { drive, withClockAndKv } from "./_kv_helpers.ts";
import { recordEvents, T0 } from "./_engine_helpers.ts";

const LEASE = { ttlMs: 1_000, renewIntervalMs: 300 };

Deno.test("overlapBesideReplays: under forbid, only replays running → queue-one; anything else keeps the job's policy", () => {
  const replay = { trigger: { replayed: true } };
  const scheduled = { trigger: {} };
  assert.equal(overlapBesideReplays("forbid", [replay]), "queue-one");
  assert.equal(overlapBesideReplays("forbid", [replay, replay]), "queue-one");
  assert.equal(overlapBesideReplays("forbid", [replay, scheduled]), "forbid");
  assert.equal(overlapBesideReplays("forbid", [scheduled]), "forbid");
  assert.equal(overlapBesideReplays("forbid", []), "forbid");
  for (const policy of [OverlapPolicy.QueueOne, OverlapPolicy.AllowParallel]) {
    assert.equal(overlapBesideReplays(policy, [replay]), policy);
  }
});

Deno.test("a replay does not cost the next occurrence: under forbid, the occurrence due while the replay runs starts when it ends", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    // Another instance took the occurrence at T0 - 500 and died with it.
    const dead = await guard.inFlight.acquire({
      jobId: "nightly",
      scheduledAt: new Date(T0 - 500),
      triggerCount: 1,
      catchUp: false,
    });
    assert.equal(dead.kind, "acquired");
    await clock.tickAsync(LEASE.ttlMs + 1);
    const start = Date.now();
    const ran: [number, boolean, number][] = [];
    const job = Job.withoutDeps(
      "nightly",
      Schedule.atTimes([start + 100]),
      Task.fromAsync(async ({ run }) => {
        ran.push([
          run.scheduledAt.getTime(),
          run.replayed === true,
          Date.now(),
        ]);
        // The replay is still running when the next occurrence comes due.
        if (run.replayed) await new Promise((r) => setTimeout(r, 400));
      }),
    );
    assert.equal(job.overlapPolicy, "forbid");
    const scheduler = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    );
    const events = recordEvents(scheduler);
    const report = await drive(
      clock,
      scheduler.run(job.withDelivery("at-least-once")),
      io,
    );
    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(
      events.filter((event) => event.type === "run-skipped"),
      [],
      "nothing skipped",
    );
    assert.deepEqual(ran.map(([at, replayed]) => [at, replayed]), [
      [T0 - 500, true],
      [start + 100, false],
    ]);
    // The scheduled occurrence waited for the replay to end.
    assert.ok(ran[1][2] >= ran[0][2] + 400, "queued behind the replay");
  });
});

Deno.test("interval grid: with grid, the first occurrence is the first multiple of everyMs after now; without, now + everyMs", () => {
  const every = Schedule.interval(1_000);
  const zone = { timezone: "UTC" };
  assert.equal(
    firstOccurrence(every, { ...zone, now: 5_123, grid: true }),
    6_000,
  );
  assert.equal(
    firstOccurrence(every, { ...zone, now: 5_000, grid: true }),
    6_000,
  );
  assert.equal(firstOccurrence(every, { ...zone, now: 5_123 }), 6_123);
});

Deno.test("interval grid: two instances with their own stores, started 370 ms apart under one guard, run each occurrence once", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const ran: [number, string][] = [];
    const job = (name: string) =>
      Job.withoutDeps(
        "grid",
        Schedule.interval(1_000),
        Task.fromSync(({ run }) =>
          void ran.push([run.scheduledAt.getTime(), name])
        ),
      ).withMaxRuns(3);
    const first = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    ).run(job("first"));
    await clock.tickAsync(370);
    const second = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    ).run(job("second"));
    await drive(clock, Promise.all([first, second]), io);
    const instants = ran.map(([at]) => at);
    assert.equal(new Set(instants).size, instants.length, "each once");
    assert.ok(instants.every((at) => at % 1_000 === 0), "on the grid");
    assert.ok(instants.length >= 3 && instants.length <= 4);
  });
});
