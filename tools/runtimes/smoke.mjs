/**
 * Smoke run of the built package under Node or Bun, as a user installs it
 * (`import ... from "@cloudiful/scheduler"` from node_modules). Real time,
 * short intervals; every step has its own deadline and the whole run a
 * watchdog, so a hang fails instead of waiting. Exits 1 on any failure.
 *
 * Deno KV is not used: DenoKvStateStore and DenoKvExecutionGuard are
 * Deno-only, and importing the package must not need them.
 */
import assert from "node:assert/strict";
import process from "node:process";
import {
  CronSchedule,
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
  StoreError,
  Task,
  TaskJoinError,
} from "@cloudiful/scheduler";

const bun = globalThis.Bun;
const runtime = bun ? `bun ${bun.version}` : `node ${process.versions.node}`;
const WORKER = new URL("./smoke_worker.mjs", import.meta.url);
const STEP_LIMIT_MS = 10_000;

const watchdog = setTimeout(() => {
  console.error(`smoke (${runtime}): watchdog fired after 60 s, a step hangs`);
  process.exit(1);
}, 60_000);

const results = [];

async function step(name, body) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no result after ${STEP_LIMIT_MS} ms`)),
      STEP_LIMIT_MS,
    );
  });
  try {
    await Promise.race([body(), limit]);
    results.push(true);
    console.log(`ok - ${name}`);
  } catch (error) {
    results.push(false);
    console.log(`not ok - ${name}`);
    console.log(`  ${String(error?.stack ?? error).replaceAll("\n", "\n  ")}`);
  } finally {
    clearTimeout(timer);
  }
}

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function recordEvents(scheduler, types) {
  const seen = [];
  for (const type of types) {
    scheduler.addEventListener(type, (event) => seen.push(event.detail));
  }
  return seen;
}

console.log(`smoke: @cloudiful/scheduler under ${runtime}`);

await step("the runtime is Node >= 20 or Bun, without Deno", () => {
  assert.equal(typeof globalThis.Deno, "undefined");
  if (!bun) {
    const major = Number(process.versions.node.split(".")[0]);
    assert.ok(major >= 20, `Node ${process.versions.node} is older than 20`);
  }
});

await step(
  "an interval job with maxRuns runs exactly that often, with events",
  async () => {
    const scheduler = new Scheduler(
      { timezone: "UTC" },
      new InMemoryStateStore(),
    );
    const events = recordEvents(scheduler, [
      "state-loaded",
      "run-started",
      "run-completed",
      "scheduler-stopped",
    ]);
    const seen = [];
    const job = Job.withoutDeps(
      "smoke-interval",
      Schedule.interval(20),
      Task.fromAsync(async ({ run, signal }) => {
        assert.equal(signal.aborted, false);
        await wait(1);
        seen.push(run.triggerCount);
      }),
    ).withMaxRuns(3);
    const report = await scheduler.run(job);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(report.history.map((run) => run.status), [
      "success",
      "success",
      "success",
    ]);
    assert.equal(report.state.triggerCount, 3);
    assert.deepEqual(events.map((event) => event.type), [
      "state-loaded",
      ...Array(3).fill(["run-started", "run-completed"]).flat(),
      "scheduler-stopped",
    ]);
    assert.equal(events.at(-1).reason, "terminal");
  },
);

await step(
  "New York cron: nextAfter across both DST days, and a/s steps",
  () => {
    const zone = "America/New_York";
    const daily = CronSchedule.parse("30 2 * * *");
    // 02:30 does not exist on 2026-03-08: once, at 03:00 EDT.
    assert.equal(
      daily.nextAfter(new Date("2026-03-08T05:00:00Z"), zone)?.toISOString(),
      "2026-03-08T07:00:00.000Z",
    );
    // 01:30 happens twice on 2026-11-01: a fixed time fires at the first.
    assert.equal(
      CronSchedule.parse("30 1 * * *")
        .nextAfter(new Date("2026-11-01T04:00:00Z"), zone)?.toISOString(),
      "2026-11-01T05:30:00.000Z",
    );
    const quarter = CronSchedule.parse("5/15 * * * *");
    const after = new Date("2026-06-01T12:00:00Z");
    const next = [];
    for (let at = after; next.length < 4;) {
      at = quarter.nextAfter(at, zone);
      next.push(at.toISOString().slice(14, 16));
    }
    assert.deepEqual(next, ["05", "20", "35", "50"]);
    assert.throws(
      () => CronSchedule.parse("0 0 30 2 *"),
      (error) => error instanceof InvalidJobError,
    );
  },
);

await step(
  "cancel through an AbortSignal stops the run, the task sees it",
  async () => {
    const controller = new AbortController();
    let taskSignal;
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    scheduler.addEventListener("run-started", () => {
      setTimeout(() => controller.abort(new Error("smoke cancel")), 5);
    });
    const job = Job.withoutDeps(
      "smoke-cancel",
      Schedule.interval(10),
      Task.fromAsync(({ signal }) => {
        taskSignal = signal;
        return new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), {
            once: true,
          });
        });
      }),
    );
    const report = await scheduler.run(job, { signal: controller.signal });
    assert.equal(report.stopReason, "cancelled");
    assert.equal(taskSignal.aborted, true);
    assert.equal(taskSignal.reason.message, "smoke cancel");
    assert.deepEqual(report.history.map((run) => run.status), ["cancelled"]);
  },
);

await step("pause holds runs back, resume lets them go on", async () => {
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  const handle = scheduler.handle();
  const runs = [];
  const job = Job.withoutDeps(
    "smoke-pause",
    Schedule.interval(15),
    Task.fromSync(({ run }) => {
      runs.push(run.catchUp);
      if (runs.length === 1) handle.pause();
    }),
  ).withMaxRuns(3).withMissedRunPolicy("replay-all");
  const running = scheduler.run(job);
  const deadline = Date.now() + 2_000;
  while (runs.length < 1 && Date.now() < deadline) await wait(5);
  assert.equal(handle.paused, true);
  await wait(120);
  assert.equal(runs.length, 1, "no run while paused");
  handle.resume();
  const report = await running;
  assert.equal(report.stopReason, "terminal");
  // The two occurrences that came due during the pause are replayed, oldest
  // first; catchUp while another is still due (neither is 1 s late).
  assert.deepEqual(runs, [false, true, false]);
});

class SwitchablePrimary {
  down = false;
  inner = new InMemoryStateStore();
  #check(operation) {
    if (this.down) {
      throw new StoreError("smoke primary is down", {
        kind: "connection",
        operation,
      });
    }
  }
  load(jobId) {
    this.#check("load");
    return this.inner.load(jobId);
  }
  save(state) {
    this.#check("save");
    return this.inner.save(state);
  }
  delete(jobId) {
    this.#check("delete");
    return this.inner.delete(jobId);
  }
}

await step(
  "the resilient store masks an outage and writes back on recovery",
  async () => {
    const primary = new SwitchablePrimary();
    primary.down = true;
    const store = new ResilientStateStore(primary, { probeIntervalMs: 20 });
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler, [
      "store-degraded",
      "store-recovered",
    ]);
    const job = Job.withoutDeps(
      "smoke-resilient",
      Schedule.interval(10),
      Task.fromSync(() => {}),
    ).withMaxRuns(2);
    const report = await scheduler.run(job);
    assert.equal(report.stopReason, "terminal");
    assert.equal(report.state.triggerCount, 2);
    assert.equal(store.degraded, true);
    assert.equal(await primary.inner.load("smoke-resilient"), undefined);
    primary.down = false;
    await wait(30);
    assert.deepEqual(await store.load("smoke-resilient"), report.state);
    assert.equal(store.degraded, false);
    assert.equal(
      (await primary.inner.load("smoke-resilient"))?.triggerCount,
      2,
      "written back to the primary",
    );
    assert.deepEqual(events.map((event) => event.type), ["store-degraded"]);
  },
);

function workerJob(id, exportName, deps) {
  return new Job(
    id,
    Schedule.atTimes([Date.now() + 5]),
    deps,
    Task.fromWorker(WORKER, { exportName }),
  );
}

await step(
  "Task.fromWorker: success, failure and a structured clone of { run, deps }",
  async () => {
    const deps = { rows: [1, 2, 3] };
    const ok = await new Scheduler(
      { timezone: "UTC" },
      new InMemoryStateStore(),
    )
      .run(workerJob("smoke-worker-ok", "default", deps));
    assert.deepEqual(ok.history.map((run) => run.status), ["success"]);
    const echoed = await new Scheduler({}, new InMemoryStateStore())
      .run(workerJob("smoke-worker-echo", "echo", deps));
    assert.equal(echoed.history[0].status, "failed");
    assert.deepEqual(JSON.parse(echoed.history[0].error), {
      jobId: "smoke-worker-echo",
      scheduledAtIsDate: true,
      deps,
      signalAborted: false,
    });
  },
);

async function assertPanics(exportName, fragment) {
  await assert.rejects(
    new Scheduler({}, new InMemoryStateStore())
      .run(workerJob(`smoke-worker-${exportName}`, exportName, undefined)),
    (error) => {
      assert.ok(error instanceof TaskJoinError, String(error));
      assert.equal(error.kind, "panic");
      assert.match(error.message, fragment);
      return true;
    },
  );
}

await step(
  "Task.fromWorker: crash, early exit and a bad module are panics",
  async () => {
    await assertPanics("crash", /crashed.*uncaught inside the worker/);
    await assertPanics(
      "exitEarly",
      /exited with code 3 before the task settled/,
    );
    await assertPanics("missing", /no function export named "missing"/);
  },
);

await step("Task.fromWorker: cancel terminates the worker", async () => {
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  const started = Date.now();
  const report = await scheduler.run(
    workerJob("smoke-worker-cancel", "forever", undefined),
    { signal: AbortSignal.timeout(200) },
  );
  assert.equal(report.stopReason, "cancelled");
  assert.deepEqual(report.history.map((run) => run.status), ["cancelled"]);
  assert.ok(Date.now() - started < 5_000);
});

await step(
  "Deno KV parts are exported but refuse a non-Deno.Kv clearly",
  () => {
    assert.throws(
      () => new DenoKvStateStore(undefined),
      (error) =>
        error instanceof InvalidJobError &&
        /needs a Deno\.Kv/.test(error.message),
    );
  },
);

await step(
  "DenoKvStateStore.open() refuses a runtime without Deno with InvalidJobError",
  async () => {
    await assert.rejects(
      DenoKvStateStore.open(":memory:"),
      (error) =>
        error instanceof InvalidJobError &&
        /needs Deno \(Deno KV is Deno only\)/.test(error.message),
    );
  },
);

await step(
  "schedule() in one call; a JobGroup stops on SIGTERM via ShutdownSignal",
  async () => {
    const seen = [];
    const job = schedule({ everyMs: 20 }, { maxRuns: 2 }, ({ run }) => {
      seen.push(run.triggerCount);
    });
    assert.ok((await job.nextRun()) instanceof Date);
    assert.equal((await job.done).stopReason, "terminal");
    assert.deepEqual(seen, [1, 2]);
    const shutdown = new ShutdownSignal();
    assert.deepEqual(shutdown.listening, ["SIGINT", "SIGTERM"]);
    const jobs = new JobGroup({ signal: shutdown.signal });
    jobs.schedule({ everyMs: 60_000 }, { jobId: "a" }, () => {});
    setTimeout(() => process.kill(process.pid, "SIGTERM"), 20);
    const reports = await jobs.done();
    assert.deepEqual(reports.map((report) => report.stopReason), [
      "cancelled",
    ]);
    assert.match(String(shutdown.signal.reason.message), /SIGTERM/);
  },
);

clearTimeout(watchdog);
const failed = results.filter((passed) => !passed).length;
console.log(
  `smoke (${runtime}): ${results.length - failed} passed, ${failed} failed`,
);
process.exit(failed === 0 ? 0 : 1);
