/**
 * Run controls on Deno KV (state in `DenoKvStateStore`, leases in
 * `DenoKvExecutionGuard`), fake time with real KV I/O: the same behaviour as
 * in memory.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  DenoKvStateStore,
  type ExecutionSlot,
  InMemoryStateStore,
  Job,
  type LeaseConfig,
  Schedule,
  Scheduler,
  Task,
  TriggerNowError,
} from "../mod.ts";
import { drive, withClockAndKv } from "./_kv_helpers.ts";
import { delay, recordEvents, stateLoaded, T0 } from "./_engine_helpers.ts";
import { jitterDelay } from "../src/scheduler/job/_jitter.ts";

/** Released occurrences are freed at once, so a release is observable. */
const LEASE: LeaseConfig = {
  ttlMs: 1_000,
  renewIntervalMs: 300,
  completedRetentionMs: 0,
};

function slot(jobId: string, scheduledAt: number): ExecutionSlot {
  return { jobId, scheduledAt: new Date(scheduledAt) };
}

Deno.test("KV: a timed-out run keeps its lease until the task settles, then releases it", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const rival = new DenoKvExecutionGuard(kv, LEASE);
    const at = T0 + 100;
    const midRun: string[] = [];
    const job = Job.withoutDeps(
      "kv-timeout",
      Schedule.atTimes([at]),
      Task.fromAsync(async () => {
        await delay(700); // past the limit, ignoring the signal
        midRun.push((await rival.acquire(slot("kv-timeout", at))).kind);
        await delay(700);
      }),
    ).withRunTimeout(500);
    const store = new DenoKvStateStore(kv);
    const scheduler = new Scheduler({}, store, { guard });
    const events = recordEvents(scheduler);
    const report = await drive(clock, scheduler.run(job), io);
    assert.deepEqual(midRun, ["contended"]);
    assert.equal(report.history[0].status, "timed-out");
    assert.equal(report.history[0].finishedAt.getTime(), at + 1_400);
    assert.equal(events.filter((e) => e.type === "run-timed-out").length, 1);
    assert.equal(events.some((e) => e.type === "execution-guard-lost"), false);
    assert.equal(
      (await store.load("kv-timeout"))?.lastError,
      "timed out after 500 ms",
    );
    // Released once the task settled: the slot is free again.
    assert.equal(
      (await rival.acquire(slot("kv-timeout", at))).kind,
      "acquired",
    );
  });
});

Deno.test("KV: retries keep the occurrence's lease and fencing token; every attempt is stored", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const tokens: (bigint | undefined)[] = [];
    const job = Job.withoutDeps(
      "kv-retry",
      Schedule.atTimes([T0 + 100]),
      Task.fromAsync(async ({ run }) => {
        tokens.push(run.fencingToken);
        await delay(400);
        if (run.attempt < 3) throw new Error(`attempt ${run.attempt}`);
      }),
    ).withRetry({ attempts: 3, backoffMs: [600] });
    const store = new DenoKvStateStore(kv);
    const scheduler = new Scheduler({}, store, { guard });
    const events = recordEvents(scheduler);
    const report = await drive(clock, scheduler.run(job), io);
    assert.equal(tokens.length, 3);
    assert.equal(new Set(tokens).size, 1);
    assert.deepEqual(report.history.map((r) => r.status), [
      "failed",
      "failed",
      "success",
    ]);
    assert.deepEqual(
      report.history.map((r) => r.startedAt.getTime() - T0),
      [100, 1_100, 2_100],
    );
    assert.equal(events.some((e) => e.type === "execution-guard-lost"), false);
    const stored = await store.load("kv-retry");
    assert.equal(stored?.triggerCount, 1);
    assert.equal(stored?.lastError, null);
    assert.equal(stored?.lastRunAt?.getTime(), T0 + 2_100);
  });
});

Deno.test("KV: triggerNow on two instances with one requestedAt runs once", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const runs: string[] = [];
    const job = (who: string) =>
      Job.withoutDeps(
        "kv-manual",
        Schedule.cron("0 0 1 1 *"),
        Task.fromSync(() => void runs.push(who)),
      );
    const a = new Scheduler({}, new InMemoryStateStore(), {
      guard: new DenoKvExecutionGuard(kv, LEASE),
    });
    const b = new Scheduler({}, new InMemoryStateStore(), {
      guard: new DenoKvExecutionGuard(kv, {
        ...LEASE,
        completedRetentionMs: 60_000,
      }),
    });
    const ready = Promise.all([stateLoaded(a), stateLoaded(b)]);
    const running = Promise.all([a.run(job("a")), b.run(job("b"))]);
    await drive(clock, ready, io);
    const requestedAt = new Date(T0 + 5_000);
    const first = await drive(
      clock,
      b.handle().triggerNow({ requestedAt }),
      io,
    );
    const second = await drive(
      clock,
      a.handle().triggerNow({ requestedAt }).then(
        () => "ran",
        (error) => error,
      ),
      io,
    );
    assert.equal(first.manual, true);
    assert.equal(first.scheduledAt.getTime(), T0 + 5_000);
    assert.ok(second instanceof TriggerNowError);
    assert.equal(second.kind, "contended");
    assert.deepEqual(runs, ["b"]);
    a.handle().shutdown();
    b.handle().shutdown();
    await drive(clock, running, io);
  });
});

Deno.test("KV: jittered occurrences run once across two instances, at the same delayed instant", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const times = [T0 + 1_000, T0 + 60_000];
    const seen: [number, number][] = [];
    const job = Job.withoutDeps(
      "kv-jitter",
      Schedule.atTimes(times),
      Task.fromSync(({ run }) => {
        seen.push([run.scheduledAt.getTime(), Date.now() - run.jitterMs]);
      }),
    ).withJitter(20_000);
    const guardConfig = { ttlMs: 10_000, renewIntervalMs: 3_000 };
    const a = new Scheduler({}, new InMemoryStateStore(), {
      guard: new DenoKvExecutionGuard(kv, guardConfig),
    });
    const b = new Scheduler({}, new InMemoryStateStore(), {
      guard: new DenoKvExecutionGuard(kv, guardConfig),
    });
    const eventsA = recordEvents(a);
    const eventsB = recordEvents(b);
    await drive(clock, Promise.all([a.run(job), b.run(job)]), io);
    // Each occurrence ran once, started exactly at nominal + its jitter.
    assert.deepEqual(seen, times.map((t) => [t, t]));
    const contended = [...eventsA, ...eventsB].filter((e) =>
      e.type === "execution-guard-contended"
    );
    assert.equal(contended.length, 2);
    const started = [...eventsA, ...eventsB].flatMap((e) =>
      e.type === "run-started" ? [e.scheduledAt.getTime()] : []
    ).sort();
    assert.deepEqual(started, times);
    assert.ok(times.some((t) => jitterDelay("kv-jitter", t, 20_000) > 0));
  });
});
