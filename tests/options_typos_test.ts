/**
 * No silent typos. Every options object refuses a key it
 * does not know with an `InvalidJobError` naming the key, and a misspelt
 * event type fails type checking (and throws at run time).
 */
import assert from "node:assert/strict";
import {
  CronSchedule,
  DenoKvExecutionGuard,
  DenoKvStateStore,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  JobGroup,
  ResilientStateStore,
  Schedule,
  schedule,
  Scheduler,
  ShutdownSignal,
  Task,
} from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

async function assertTypo(
  call: () => unknown,
  key: string,
): Promise<void> {
  let caught: unknown;
  try {
    await call();
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof InvalidJobError,
    `expected an InvalidJobError for ${key}, got ${String(caught)}`,
  );
  assert.equal(caught.kind, "other");
  assert.ok(
    caught.message.includes(`"${key}"`),
    `message ${JSON.stringify(caught.message)} should name ${key}`,
  );
}

const lease = { ttlMs: 30_000, renewIntervalMs: 10_000 };
const url = "redis://127.0.0.1:1";

Deno.test("Scheduler options, run() options and the config refuse unknown keys", async () => {
  const store = new InMemoryStateStore();
  await assertTypo(
    () => new Scheduler({}, store, { gaurd: undefined } as Any),
    "gaurd",
  );
  await assertTypo(
    () => new Scheduler({ timzone: "UTC" } as Any, store),
    "timzone",
  );
  await assertTypo(
    () => new Scheduler({ dst: { gapp: "skip" } } as Any, store),
    "gapp",
  );
  const job = Job.withoutDeps(
    "j",
    Schedule.interval(1000),
    Task.fromSync(() => {}),
  );
  await assertTypo(
    () =>
      new Scheduler({}, store).run(job, { sigal: AbortSignal.abort() } as Any),
    "sigal",
  );
});

Deno.test("task, store and guard options refuse unknown keys", async () => {
  await assertTypo(
    () =>
      Task.fromWorker(
        new URL("./fixtures/worker_tasks.ts", import.meta.url),
        { export: "x" } as Any,
      ),
    "export",
  );
  await assertTypo(
    () =>
      new ResilientStateStore(
        new InMemoryStateStore(),
        { probeInterval: 5 } as Any,
      ),
    "probeInterval",
  );
  const kv = await Deno.openKv(":memory:");
  try {
    await assertTypo(
      () => new DenoKvStateStore(kv, { prefix: ["a"] } as Any),
      "prefix",
    );
    await assertTypo(
      () => DenoKvStateStore.open(":memory:", { prefix: ["a"] } as Any),
      "prefix",
    );
    await assertTypo(
      () => new DenoKvExecutionGuard(kv, lease, { prefix: ["a"] } as Any),
      "prefix",
    );
    await assertTypo(
      () => new DenoKvExecutionGuard(kv, { ...lease, ttl: 5 } as Any),
      "ttl",
    );
  } finally {
    kv.close();
  }
  // Validated before any connection is attempted.
  await assertTypo(
    () => ValkeyStateStore.connect(url, { prefix: "a:" } as Any),
    "prefix",
  );
  await assertTypo(
    () => ValkeyStateStore.resilient(url, { probeIntervalMS: 5 } as Any),
    "probeIntervalMS",
  );
  await assertTypo(
    () => ValkeyExecutionGuard.connect(url, lease, { prefix: "a:" } as Any),
    "prefix",
  );
  await assertTypo(
    () =>
      ValkeyExecutionGuard.connect(
        url,
        { ...lease, completedRetention: 1 } as Any,
      ),
    "completedRetention",
  );
});

Deno.test("every other options object of the public API, nested ones included, refuses unknown keys", async () => {
  // Together with the two tests above, this lists every options object:
  // Scheduler options, config, config.dst, run() options, Task.fromWorker,
  // ResilientStateStore, Deno KV and Valkey stores and guards, lease
  // configs (above); withRetry, triggerNow, schedule() and its nested
  // retry and dst, JobGroup and JobGroup.schedule(), nextRuns options,
  // CronSchedule.nextRuns dst and ShutdownSignal (here).
  const job = Job.withoutDeps(
    "j",
    Schedule.interval(1000),
    Task.fromSync(() => {}),
  );
  await assertTypo(
    () => job.withRetry({ attempts: 3, backofMs: 100 } as Any),
    "backofMs",
  );
  await assertTypo(
    () => schedule({ everyMs: 1000 }, { maxRun: 3 } as Any, () => {}),
    "maxRun",
  );
  await assertTypo(
    () => schedule({ everyMs: 1000, every: 5 } as Any, () => {}),
    "every",
  );
  await assertTypo(
    () =>
      schedule({ everyMs: 1000 }, {
        retry: { attempts: 2, backofMs: [1] },
      } as Any, () => {}),
    "backofMs",
  );
  await assertTypo(
    () => schedule("0 3 * * *", { dst: { overlapp: "both" } } as Any, () => {}),
    "overlapp",
  );
  await assertTypo(() => new JobGroup({ stor: undefined } as Any), "stor");
  const group = new JobGroup();
  await assertTypo(
    () => group.schedule({ everyMs: 1000 }, { jobID: "x" } as Any, () => {}),
    "jobID",
  );
  await assertTypo(
    () => Schedule.nextRuns(Schedule.interval(1000), 1, { form: 0 } as Any),
    "form",
  );
  await assertTypo(
    () =>
      CronSchedule.parse("0 3 * * *").nextRuns(1, new Date(), "UTC", {
        gapp: "skip",
      } as Any),
    "gapp",
  );
  await assertTypo(
    () => new ShutdownSignal({ signal: ["SIGINT"] } as Any),
    "signal",
  );
  // triggerNow checks its options before anything else: the typo is named
  // even with no run() active.
  const handle = new Scheduler({}, new InMemoryStateStore()).handle();
  await assertTypo(
    () => handle.triggerNow({ requestAt: Date.now() } as Any),
    "requestAt",
  );
  const started = schedule("0 3 * * *", () => {});
  try {
    await assertTypo(
      () => started.triggerNow({ requestAt: Date.now() } as Any),
      "requestAt",
    );
  } finally {
    started.cancel();
    await started.done;
  }
});

Deno.test("the known keys are still accepted", () => {
  const store = new ResilientStateStore(new InMemoryStateStore(), {
    probeIntervalMs: 10,
    isConnectionError: () => false,
  });
  const scheduler = new Scheduler(
    { timezone: "UTC", dst: { gap: "skip" } },
    store,
    {
      guard: undefined,
      observer: undefined,
    },
  );
  assert.ok(scheduler instanceof Scheduler);
});

Deno.test("a misspelt event type fails type checking and throws at run time", () => {
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  let caught: unknown;
  try {
    // @ts-expect-error: "run-complete" is not a scheduler event ("run-completed" is)
    scheduler.addEventListener("run-complete", () => {});
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InvalidJobError);
  assert.match(caught.message, /no event "run-complete"/);
  const listenerObject = () =>
    // @ts-expect-error: the EventListenerObject overload is typed too
    scheduler.addEventListener("runcompleted", { handleEvent() {} });
  assert.throws(listenerObject, InvalidJobError);
  scheduler.addEventListener("run-completed", (event) => {
    const status: string = event.detail.status;
    assert.ok(status);
  });
});
