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
  RunStatus,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  type SchedulerEventMap,
  SchedulerStopReason,
  StoreOperation,
  Task,
} from "../mod.ts";
import { jsonSafe } from "../src/_json_tokens.ts";
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

Deno.test("one detail of every event type stringifies, every bigint as decimal text, through the scheduler's dispatch", () => {
  const at = new Date(Date.UTC(2026, 11, 7, 3));
  const run = {
    jobId: "every",
    scheduledAt: at,
    catchUp: false,
    triggerCount: 3,
  };
  const token = 1_796_630_649_515_322n;
  // One detail per type; the mapped type fails to compile when an event type
  // is added without a sample here.
  const samples: { [K in keyof SchedulerEventMap]: SchedulerEventMap[K] } = {
    "state-loaded": {
      type: "state-loaded",
      jobId: "every",
      triggerCount: 3,
      nextRunAt: at,
      source: "restored",
    },
    "state-repaired": {
      type: "state-repaired",
      jobId: "every",
      triggerCount: 3,
      previousNextRunAt: null,
      repairedNextRunAt: at,
    },
    "state-reconciled": {
      type: "state-reconciled",
      jobId: "every",
      triggerCount: 3,
      previous: { fingerprint: "a", nextRunAt: at },
      next: { fingerprint: "b", nextRunAt: null },
    },
    "trigger-emitted": { type: "trigger-emitted", ...run },
    "run-reclaimed": {
      type: "run-reclaimed",
      ...run,
      fencingToken: token + 1n,
      previousFencingToken: token,
    },
    "run-started": {
      type: "run-started",
      ...run,
      fencingToken: token,
      attempt: 1,
      replayed: true,
    },
    "run-completed": {
      type: "run-completed",
      ...run,
      status: RunStatus.Failed,
      error: "boom",
      attempt: 2,
    },
    "run-retrying": {
      type: "run-retrying",
      ...run,
      attempt: 2,
      delayMs: 100,
      error: "boom",
    },
    "run-timed-out": {
      type: "run-timed-out",
      ...run,
      attempt: 1,
      timeoutMs: 50,
    },
    "run-skipped": {
      type: "run-skipped",
      jobId: "every",
      scheduledAt: at,
      triggerCount: 3,
      count: 2,
      reason: "missed",
    },
    "execution-guard-contended": { type: "execution-guard-contended", ...run },
    "execution-guard-acquire-failed": {
      type: "execution-guard-acquire-failed",
      ...run,
      error: "damaged",
    },
    "execution-guard-data-damaged": {
      type: "execution-guard-data-damaged",
      jobId: "every",
      error: "damaged",
    },
    "execution-guard-lost": { type: "execution-guard-lost", ...run },
    "execution-guard-release-failed": {
      type: "execution-guard-release-failed",
      ...run,
      error: "gone",
    },
    "store-degraded": {
      type: "store-degraded",
      jobId: "every",
      operation: StoreOperation.Save,
      error: "refused",
    },
    "store-recovered": {
      type: "store-recovered",
      jobId: "every",
      operation: StoreOperation.Save,
    },
    "fencing-reset": {
      type: "fencing-reset",
      jobId: "every",
      previousFencingToken: token,
      fencingToken: token + 10n,
    },
    "terminal-state-deleted": {
      type: "terminal-state-deleted",
      jobId: "every",
      triggerCount: 3,
    },
    "scheduler-stopped": {
      type: "scheduler-stopped",
      jobId: "every",
      triggerCount: 3,
      reason: SchedulerStopReason.Terminal,
    },
  };
  assert.deepEqual(
    Object.keys(samples).sort(),
    [...SCHEDULER_EVENT_TYPES].sort(),
  );
  // What a listener receives: the scheduler passes every detail through
  // jsonSafe before the observer and the listeners see it.
  for (const detail of Object.values(samples)) {
    const event = jsonSafe({ ...detail }) as SchedulerEvent;
    assert.doesNotThrow(() => JSON.stringify(event), event.type);
    assertJson(event);
  }
});
