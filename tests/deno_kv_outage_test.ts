/**
 * Deno KV trouble: passing connection errors are retried within
 * `retryBudgetMs` on the fake clock, a closed database and corrupt values
 * are not, and a garbage lease value costs only its own occurrence.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  DenoKvStateStore,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  type JobState,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { drive, withClockAndKv } from "./_kv_helpers.ts";
import { assertGuardError, assertStoreError } from "./_assert_errors.ts";
import { recordEvents, T0 } from "./_engine_helpers.ts";

const LEASE = { ttlMs: 1_000, renewIntervalMs: 300 };

/**
 * `kv`, whose calls of `method` fail with what `failure()` makes while
 * `failing()` says so; the failed calls' times are kept.
 */
function failingKv(
  kv: Deno.Kv,
  options: {
    methods: readonly string[];
    failing: () => boolean;
    failure: () => Error;
  },
): { kv: Deno.Kv; failedAt: number[] } {
  const failedAt: number[] = [];
  const proxy = new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (options.methods.includes(property as string)) {
        return (...args: unknown[]) => {
          if (options.failing()) {
            failedAt.push(Date.now() - T0);
            return Promise.reject(options.failure());
          }
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
  return { kv: proxy, failedAt };
}

const STATE: JobState = {
  jobId: "kv-outage",
  triggerCount: 3,
  lastRunAt: null,
  lastSuccessAt: null,
  nextRunAt: new Date(T0 + 60_000),
  lastError: null,
};

Deno.test("DenoKvStateStore retries a reset connection on the fake clock, then saves", async () => {
  await withClockAndKv(async (realKv, clock, io) => {
    const { kv, failedAt } = failingKv(realKv, {
      methods: ["set", "get"],
      failing: () => Date.now() - T0 < 2_000, // a two-second outage
      failure: () => new Deno.errors.ConnectionReset("connection reset"),
    });
    const store = new DenoKvStateStore(kv);
    await drive(clock, store.save(STATE), io);
    assert.ok(Date.now() - T0 >= 2_000, "saved once the outage was over");
    assert.ok(failedAt.length >= 5, `${failedAt.length} failed attempts`);
    for (let i = 1; i < failedAt.length; i++) {
      const pause = failedAt[i] - failedAt[i - 1];
      assert.ok(pause > 0 && pause <= 1_000, `pause ${pause} ms`);
    }
    assert.deepEqual(await store.load("kv-outage"), STATE);
  });
});

Deno.test("DenoKvStateStore gives up after retryBudgetMs with kind connection", async () => {
  await withClockAndKv(async (realKv, clock, io) => {
    const { kv, failedAt } = failingKv(realKv, {
      // A save reads the stored value before its compare-and-set commit.
      methods: ["get", "set"],
      failing: () => true,
      failure: () => new Deno.errors.Interrupted("interrupted"),
    });
    const store = new DenoKvStateStore(kv, { retryBudgetMs: 1_500 });
    const saving = store.save(STATE);
    saving.catch(() => {});
    await drive(clock, saving.catch(() => {}), io);
    await assertStoreError(saving, {
      kind: "connection",
      operation: "save",
      includes: "kv-outage",
    });
    assert.ok(failedAt.length > 1, "it was retried");
    assert.ok(Date.now() - T0 < 1_500, `gave up at ${Date.now() - T0} ms`);

    const once = new DenoKvStateStore(kv, { retryBudgetMs: 0 });
    const before = failedAt.length;
    await assertStoreError(once.save(STATE), { kind: "connection" });
    assert.equal(failedAt.length - before, 1, "budget 0: a single attempt");
  });
});

Deno.test("Deno KV: a closed database and a corrupt value are never retried", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    await kv.set(["scheduler", "job-state", "bad"], "{not json");
    const store = new DenoKvStateStore(kv);
    const started = Date.now();
    await drive(
      clock,
      assertStoreError(store.load("bad"), { kind: "data", includes: "bad" }),
      io,
    );
    assert.equal(Date.now(), started, "no fake time passed: not retried");
  });
  await withFakeClock(T0, async () => {
    const kv = await Deno.openKv(":memory:");
    const store = new DenoKvStateStore(kv);
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    kv.close();
    // With the fake clock never advanced, a retry would hang here.
    await assertStoreError(store.save(STATE), { kind: "connection" });
    await assertGuardError(
      guard.acquire({ jobId: "closed", scheduledAt: new Date(T0) }),
      "connection",
    );
  });
});

Deno.test("DenoKvExecutionGuard retries a passing connection error on acquire", async () => {
  await withClockAndKv(async (realKv, clock, io) => {
    const { kv, failedAt } = failingKv(realKv, {
      methods: ["getMany"],
      failing: () => Date.now() - T0 < 500,
      failure: () => new Deno.errors.ConnectionRefused("refused"),
    });
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const answer = await drive(
      clock,
      guard.acquire({ jobId: "flaky", scheduledAt: new Date(T0) }),
      io,
    );
    assert.equal(answer.kind, "acquired");
    assert.ok(failedAt.length >= 3, `${failedAt.length} failed attempts`);
  });
});

Deno.test("Deno KV retryBudgetMs is validated by the stores and guards", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    for (const bad of [-1, 0.5, "10", Infinity]) {
      const named = (what: string) => (error: unknown) =>
        error instanceof InvalidJobError && error.kind === "other" &&
        error.message.includes(`${what} retryBudgetMs`) &&
        error.message.includes(String(bad));
      assert.throws(
        () => new DenoKvStateStore(kv, { retryBudgetMs: bad as number }),
        named("DenoKvStateStore"),
      );
      await assert.rejects(
        DenoKvStateStore.open(":memory:", { retryBudgetMs: bad as number }),
        named("DenoKvStateStore"),
      );
      assert.throws(
        () =>
          new DenoKvExecutionGuard(kv, LEASE, {
            retryBudgetMs: bad as number,
          }),
        named("DenoKvExecutionGuard"),
      );
    }
  } finally {
    kv.close();
  }
});

Deno.test("a garbage Deno KV lease value is reported naming its key and set aside under quarantine; its occurrence runs on the second ask, the job goes on", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const times = [T0 + 100, T0 + 200, T0 + 300, T0 + 400];
    const leaseKey = [
      "scheduler",
      "execution-lease",
      "lease",
      "kv-job",
      times[1],
    ];
    await kv.set(leaseKey, "garbage");
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const scheduler = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    );
    const events: SchedulerEvent[] = recordEvents(scheduler);
    const ran: number[] = [];
    const report = await drive(
      clock,
      scheduler.run(
        Job.withoutDeps(
          "kv-job",
          Schedule.atTimes(times),
          Task.fromSync(({ run }) => void ran.push(run.scheduledAt.getTime())),
        ),
      ),
      io,
    );
    assert.deepEqual(ran, times);
    assert.equal(report.stopReason, "terminal");
    assert.equal(report.state.triggerCount, 4);
    const failed = events.filter((e) =>
      e.type === "execution-guard-acquire-failed"
    );
    assert.equal(failed.length, 1);
    const [event] = failed as Extract<
      SchedulerEvent,
      { type: "execution-guard-acquire-failed" }
    >[];
    assert.equal(event.scheduledAt.getTime(), times[1]);
    assert.equal(event.jobId, "kv-job");
    assert.ok(
      event.error.includes(`"kv-job", ${times[1]}]`) &&
        event.error.includes("garbage"),
      event.error,
    );
    assert.ok(event.error.includes('"quarantine", "lease"'), event.error);
    const moved = [];
    for await (
      const entry of kv.list({
        prefix: ["scheduler", "execution-lease", "quarantine"],
      })
    ) moved.push(entry.value);
    assert.deepEqual(moved, ["garbage"], "set aside for an operator");
  });
});

Deno.test("DenoKvStateStore.open retries a database locked by another process opening it", async () => {
  const original = Deno.openKv;
  let calls = 0;
  Object.defineProperty(Deno, "openKv", {
    configurable: true,
    writable: true,
    value: (path?: string) => {
      calls++;
      return calls <= 2
        ? Promise.reject(new TypeError("database is locked"))
        : original(path);
    },
  });
  try {
    const store = await DenoKvStateStore.open(":memory:");
    assert.equal(calls, 3, "two locked attempts, then opened");
    assert.equal(await store.load("nothing"), undefined);
    store.close();
  } finally {
    Object.defineProperty(Deno, "openKv", {
      configurable: true,
      writable: true,
      value: original,
    });
  }
});
