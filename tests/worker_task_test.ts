/**
 * Worker tasks run in real module Web Workers, so these tests use real time;
 * each schedules its run 10 ms ahead and finishes within a few hundred ms.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  InvalidJobError,
  Job,
  Schedule,
  Scheduler,
  Task,
  TaskJoinError,
} from "../mod.ts";
import { recordEvents } from "./_engine_helpers.ts";
import { workerHostUrl } from "../src/scheduler/job/_worker_spawn.ts";

const FIXTURES = new URL("./fixtures/worker_tasks.ts", import.meta.url);

function workerJob<D>(id: string, task: Task<D>, deps: D, count = 1) {
  const now = Date.now();
  return new Job(
    id,
    Schedule.atTimes(Array.from({ length: count }, (_, i) => now + 10 + i * 5)),
    deps,
    task,
  );
}

Deno.test("worker task: a worker that resolves is a success", async () => {
  const report = await new Scheduler({}, new InMemoryStateStore()).run(
    workerJob("worker-ok", Task.fromWorker(FIXTURES), undefined),
  );
  assert.equal(report.history.length, 1);
  assert.equal(report.history[0].status, "success");
});

Deno.test("worker task: gets a structured clone of { run, deps } and a signal", async () => {
  const deps = { label: "nightly", limits: [1, 2, 3] };
  const job = workerJob(
    "worker-inspect",
    Task.fromWorker(FIXTURES, { exportName: "inspect" }),
    deps,
  );
  const report = await new Scheduler(
    { timezone: "Europe/Berlin" },
    new InMemoryStateStore(),
  )
    .run(job);
  assert.equal(report.history[0].status, "failed");
  assert.deepEqual(JSON.parse(report.history[0].error!), {
    jobId: "worker-inspect",
    triggerCount: 1,
    scheduledAtIsDate: true,
    scheduledAt: report.history[0].scheduledAt.toISOString(),
    timezone: "Europe/Berlin",
    deps,
    signalAborted: false,
  });
});

Deno.test("worker task: a rejection is a failure with its message, and scheduling goes on", async () => {
  const report = await new Scheduler({}, new InMemoryStateStore()).run(
    workerJob(
      "worker-fail",
      Task.fromWorker(FIXTURES, { exportName: "fail" }),
      undefined,
      2,
    )
      .withOverlapPolicy("queue-one"),
  );
  assert.deepEqual(report.history.map((r) => [r.status, r.error]), [
    ["failed", "report generation failed"],
    ["failed", "report generation failed"],
  ]);
  assert.equal(report.state.lastError, "report generation failed");
});

async function assertPanics(
  exportName: string | undefined,
  module: URL,
  fragment: RegExp,
) {
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  const events = recordEvents(scheduler);
  const started = Date.now();
  await assert.rejects(
    scheduler.run(
      workerJob(
        `worker-${exportName}`,
        Task.fromWorker(module, { exportName }),
        undefined,
      ),
    ),
    (error: unknown) => {
      assert.ok(error instanceof TaskJoinError, String(error));
      assert.equal(error.kind, "panic");
      assert.match(error.message, fragment);
      return true;
    },
  );
  assert.ok(Date.now() - started < 5000, "a panic never leaves run() waiting");
  const stopped = events.at(-1);
  assert.equal(stopped?.type, "scheduler-stopped");
  assert.equal(
    stopped?.type === "scheduler-stopped" && stopped.reason,
    "failed",
  );
  assert.equal(
    events.some((e) => e.type === "run-completed"),
    false,
    "a panicked run is not recorded",
  );
}

Deno.test("worker task: an uncaught error in the worker is a panic", async () => {
  await assertPanics("crash", FIXTURES, /crashed.*uncaught inside the worker/);
});

Deno.test("worker task: self.close() before settling is a panic, not a hang", async () => {
  await assertPanics("closeItself", FIXTURES, /closed itself/);
});

Deno.test("worker task: Deno.exit() before settling is a panic, not a hang", async () => {
  await assertPanics("exitEarly", FIXTURES, /Deno\.exit\(3\)/);
});

Deno.test("worker task: a module that fails to load is a panic", async () => {
  await assertPanics(
    undefined,
    new URL("./fixtures/worker_load_error.ts", import.meta.url),
    /failed to load.*cannot load/,
  );
});

Deno.test("worker task: a missing or non-function export is a panic", async () => {
  await assertPanics(
    "noSuchExport",
    FIXTURES,
    /no function export named "noSuchExport"/,
  );
  await assertPanics(
    "notAFunction",
    FIXTURES,
    /no function export named "notAFunction"/,
  );
});

Deno.test("worker task: cancel() terminates the worker and records the run cancelled", async () => {
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  scheduler.addEventListener("run-started", () => {
    setTimeout(() => scheduler.handle().cancel(new Error("stop now")), 30);
  });
  const report = await scheduler.run(
    workerJob(
      "worker-forever",
      Task.fromWorker(FIXTURES, { exportName: "forever" }),
      undefined,
    ),
  );
  assert.equal(report.stopReason, "cancelled");
  assert.equal(report.history[0].status, "cancelled");
  assert.equal(report.history[0].error, "stop now");
});

Deno.test("worker task: a panic waits for the other in-flight runs, which are recorded", async () => {
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  const events = recordEvents(scheduler);
  const now = Date.now();
  const job = new Job(
    "worker-parallel-panic",
    Schedule.atTimes([now + 10, now + 12]),
    undefined,
    Task.fromWorker(FIXTURES, { exportName: "crashFirst" }),
  ).withOverlapPolicy("allow-parallel").withMissedRunPolicy("replay-all");
  await assert.rejects(scheduler.run(job), TaskJoinError);
  const types = events.map((e) => e.type);
  const completed = events.filter((e) => e.type === "run-completed");
  assert.equal(completed.length, 1, "the second run settled and was recorded");
  assert.equal(
    completed[0].type === "run-completed" && completed[0].triggerCount,
    2,
  );
  assert.equal(
    completed[0].type === "run-completed" && completed[0].status,
    "success",
  );
  assert.ok(
    types.indexOf("run-completed") < types.indexOf("scheduler-stopped"),
  );
  assert.equal(types.at(-1), "scheduler-stopped");
});

Deno.test("worker task: messages the task posts itself neither crash nor end the run", async () => {
  const report = await new Scheduler({}, new InMemoryStateStore()).run(
    workerJob(
      "worker-chatty",
      Task.fromWorker(FIXTURES, { exportName: "chatty" }),
      undefined,
    ),
  );
  assert.equal(report.history[0].status, "success");
});

Deno.test("worker task: the host URL follows the module's extension (.ts sources, .js builds)", () => {
  assert.equal(
    workerHostUrl(
      "https://jsr.io/@cloudiful/scheduler/0.1.0/src/scheduler/worker_task.ts",
    ).href,
    "https://jsr.io/@cloudiful/scheduler/0.1.0/src/scheduler/_worker_host.ts",
  );
  assert.equal(
    workerHostUrl(
      "file:///app/node_modules/@cloudiful/scheduler/src/scheduler/worker_task.js",
    ).href,
    "file:///app/node_modules/@cloudiful/scheduler/src/scheduler/_worker_host.js",
  );
});

Deno.test("worker task: a runtime with neither Worker nor worker_threads is refused at construction", () => {
  const saved = ["Worker", "process"].map((name) =>
    [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const
  );
  try {
    for (const [name] of saved) {
      Object.defineProperty(globalThis, name, {
        value: undefined,
        configurable: true,
        writable: true,
      });
    }
    assert.throws(
      () => Task.fromWorker(FIXTURES),
      (error: unknown) => {
        assert.ok(error instanceof InvalidJobError, String(error));
        assert.equal(error.kind, "other");
        assert.match(
          error.message,
          /neither a Worker global nor node:worker_threads/,
        );
        assert.ok(error.message.includes(navigator.userAgent), error.message);
        return true;
      },
    );
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
    }
  }
  assert.equal(typeof Task.fromWorker(FIXTURES), "object");
});
