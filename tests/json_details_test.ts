/**
 * Every event detail and every run record can be written as JSON: fencing
 * tokens (`bigint`s) become their decimal text, instants ISO strings, and
 * `JSON.stringify` never throws inside a listener.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  InMemoryStateStore,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { SCHEDULER_EVENT_TYPES } from "../src/scheduler/events/events.ts";

/** Runs `job` on a scheduler that records every event through an observer. */
async function events(
  job: Job<undefined>,
  parts: { store?: InMemoryStateStore; guard?: DenoKvExecutionGuard } = {},
): Promise<{ seen: SchedulerEvent[]; history: unknown[] }> {
  const seen: SchedulerEvent[] = [];
  const scheduler = new Scheduler({}, parts.store ?? new InMemoryStateStore(), {
    observer: { onEvent: (event) => void seen.push(event) },
    ...(parts.guard === undefined ? {} : { guard: parts.guard }),
  });
  // A listener that stringifies, as a user's logging would.
  for (const type of SCHEDULER_EVENT_TYPES) {
    scheduler.addEventListener(
      type,
      (event) => void JSON.stringify(event.detail),
    );
  }
  const report = await scheduler.run(job);
  assert.doesNotThrow(() => JSON.stringify(report));
  return { seen, history: [...report.history] };
}

function assertJson(event: SchedulerEvent): void {
  const text = JSON.stringify(event);
  const back = JSON.parse(text) as Record<string, unknown>;
  for (const [key, value] of Object.entries(event)) {
    if (typeof value === "bigint") {
      assert.equal(back[key], value.toString(), `${event.type}.${key}`);
      assert.equal(BigInt(back[key] as string), value, "read back exactly");
    } else if (value instanceof Date) {
      assert.equal(back[key], value.toISOString(), `${event.type}.${key}`);
    } else if (value !== undefined) {
      assert.deepEqual(back[key], JSON.parse(JSON.stringify(value)));
    }
  }
}

Deno.test("event details and run records of real runs stringify, fencing tokens as decimal text", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const guard = new DenoKvExecutionGuard(kv, {
      ttlMs: 30_000,
      renewIntervalMs: 10_000,
    });
    const all: SchedulerEvent[] = [];
    const now = Date.now();
    // Guarded runs (tokens), a failure retried, a timeout, missed runs.
    const store = new InMemoryStateStore();
    let calls = 0;
    const flaky = Job.withoutDeps(
      "json",
      Schedule.atTimes([now - 5_000, now - 4_000, now + 5]),
      Task.fromAsync(async ({ signal }) => {
        calls++;
        if (calls === 1) throw new Error("first attempt fails");
        if (calls === 2) {
          await new Promise((resolve) =>
            signal.addEventListener("abort", resolve)
          );
        }
      }),
    ).withRetry({ attempts: 3, backoffMs: [1] }).withRunTimeout(20)
      .withMissedRunPolicy(MissedRunPolicy.CatchUpOnce);
    const first = await events(flaky, { store, guard });
    all.push(...first.seen);
    // The counter is lost: the same guard re-seeds it and says so.
    await kv.delete(["scheduler", "execution-lease", "fence", "json"]);
    const again = Job.withoutDeps(
      "json",
      Schedule.atTimes([now + 10, now + 20]),
      Task.fromSync(() => {}),
    );
    // The first job again, changed: its stored state is reconciled.
    all.push(
      ...(await events(flaky.withMaxRuns(9), { store })).seen,
    );
    all.push(...(await events(again, { guard })).seen);
    for (const event of all) assertJson(event);
    for (const record of first.history) {
      assert.doesNotThrow(() => JSON.stringify(record));
    }
    const types = new Set(all.map((event) => event.type));
    for (
      const type of [
        "state-loaded",
        "state-reconciled",
        "trigger-emitted",
        "run-skipped",
        "run-started",
        "run-retrying",
        "run-timed-out",
        "run-completed",
        "fencing-reset",
        "scheduler-stopped",
      ] as const
    ) {
      assert.ok(types.has(type), `a ${type} event was stringified`);
    }
    const started = all.find((event) => event.type === "run-started");
    assert.equal(
      typeof (started as { fencingToken?: unknown }).fencingToken,
      "bigint",
    );
  } finally {
    kv.close();
  }
});

Deno.test("the fencing-reset detail a guard dispatches on itself stringifies too", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const guard = new DenoKvExecutionGuard(kv, {
      ttlMs: 30_000,
      renewIntervalMs: 10_000,
    });
    const texts: string[] = [];
    guard.addEventListener("fencing-reset", (event) => {
      texts.push(JSON.stringify((event as CustomEvent).detail));
    });
    const slot = (at: number) => ({
      jobId: "reset",
      scheduledAt: new Date(at),
    });
    const first = await guard.acquire(slot(1_000));
    assert.ok(first.kind === "acquired");
    await guard.release(first.lease);
    await kv.delete(["scheduler", "execution-lease", "fence", "reset"]);
    const second = await guard.acquire(slot(2_000));
    assert.ok(second.kind === "acquired");
    await guard.release(second.lease);
    assert.equal(texts.length, 1);
    const detail = JSON.parse(texts[0]);
    assert.equal(typeof detail.fencingToken, "string");
    assert.ok(
      BigInt(detail.fencingToken) > BigInt(detail.previousFencingToken),
    );
  } finally {
    kv.close();
  }
});
