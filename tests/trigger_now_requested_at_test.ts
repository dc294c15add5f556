/**
 * `triggerNow({ requestedAt })` outside the years 0000–9999 (the instants a
 * job state and a guard slot can hold: docs/stores.md, Limits of values) is
 * refused as bad input, and the job goes on; the first and last instants of
 * the range are taken by a real Deno KV guard. Fake time, real KV I/O.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { drive, withClockAndKv } from "./_kv_helpers.ts";
import { recordEvents, settle, stateLoaded, T0 } from "./_engine_helpers.ts";
import { withFakeClock } from "./_fake_time.ts";
import { MAX_STORABLE_MS, MIN_STORABLE_MS } from "../src/schedule/_civil.ts";

const MINUTE = 60_000;

/** Outside the range: just past each end, and beyond the `Date` range. */
const BAD: [Date | number, RegExp][] = [
  [Date.UTC(10000, 0, 1), /253402300800000 \(\+010000-01-01T00:00:00\.000Z\)/],
  [new Date(MAX_STORABLE_MS + 1), /\+010000-01-01T00:00:00\.000Z/],
  [MIN_STORABLE_MS - 1, /-000001-12-31T23:59:59\.999Z/],
  [9_000_000_000_000_000, /9000000000000000/],
  [-9_000_000_000_000_000, /-9000000000000000/],
];

function refusal(words: RegExp) {
  return (error: unknown) =>
    error instanceof InvalidJobError && error.kind === "other" &&
    /outside the years 0000-9999/.test(error.message) &&
    words.test(error.message);
}

Deno.test("KV guard: a requestedAt outside the years 0000-9999 is refused, and the job keeps running", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore(), {
      guard: new DenoKvExecutionGuard(kv, {
        ttlMs: 5_000,
        renewIntervalMs: 1_000,
      }),
    });
    const handle = scheduler.handle();
    const events = recordEvents(scheduler);
    const seen: number[] = [];
    const job = Job.withoutDeps(
      "minutely",
      Schedule.interval(MINUTE),
      Task.fromSync(({ run }) => void seen.push(run.scheduledAt.getTime())),
    );
    const ready = stateLoaded(scheduler);
    const running = scheduler.run(job);
    await drive(clock, ready, io);
    for (const [requestedAt, words] of BAD) {
      await assert.rejects(
        handle.triggerNow({ requestedAt }),
        refusal(words),
        String(requestedAt),
      );
    }
    // The first and the last instant a state can hold are slots like any;
    // 0000-01-01T00:00Z is on the minute grid the guarded interval keeps
    // (docs/recovery.md), so its slot is the millisecond after it.
    const slots = [];
    for (const requestedAt of [MIN_STORABLE_MS, new Date(MAX_STORABLE_MS)]) {
      const record = await drive(clock, handle.triggerNow({ requestedAt }), io);
      assert.equal(record.manual, true);
      assert.equal(record.status, "success");
      slots.push(record.scheduledAt.getTime());
    }
    assert.deepEqual(slots, [MIN_STORABLE_MS + 1, MAX_STORABLE_MS]);
    // The scheduled occurrence still runs, under its lease.
    const first = Math.ceil(T0 / MINUTE) * MINUTE;
    await drive(
      clock,
      new Promise<void>((resolve) => {
        scheduler.addEventListener("run-completed", (event) => {
          if (event.detail.manual !== true) resolve();
        });
      }),
      io,
    );
    assert.deepEqual(seen, [...slots, first]);
    handle.shutdown();
    const report = await drive(clock, running, io);
    assert.equal(report.stopReason, "shutdown");
    assert.equal(report.state.triggerCount, 1);
    // Every run, manual ones included, held a lease of the KV guard.
    const started = events.filter((event) => event.type === "run-started");
    assert.equal(started.length, 3);
    for (const event of started) {
      assert.equal(typeof event.fencingToken, "bigint", JSON.stringify(event));
    }
    const types = events.map((event) => event.type);
    assert.ok(!types.includes("execution-guard-acquire-failed"), types.join());
    assert.ok(!types.includes("execution-guard-contended"), types.join());
  });
});

Deno.test("no guard: a requestedAt outside the range runs nothing; none is refused for want of a run()", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    // Named as bad input even with no run() active.
    await assert.rejects(
      handle.triggerNow({ requestedAt: 9e15 }),
      refusal(/9000000000000000/),
    );
    let runs = 0;
    const job = Job.withoutDeps(
      "hourly",
      Schedule.cron("0 * * * *"),
      Task.fromSync(() => void runs++),
    );
    const ready = stateLoaded(scheduler);
    const running = scheduler.run(job);
    await settle(clock, ready);
    for (const [requestedAt, words] of BAD) {
      await assert.rejects(
        handle.triggerNow({ requestedAt }),
        refusal(words),
        String(requestedAt),
      );
    }
    assert.equal(runs, 0);
    handle.shutdown();
    const report = await settle(clock, running);
    assert.equal(report.stopReason, "shutdown");
    assert.deepEqual(report.history, []);
  });
});
