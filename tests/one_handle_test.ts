/**
 * One handle: the object `schedule()` returns, the entries of a `JobGroup`
 * and `Scheduler.handle()` have the same controls and agree with each other.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  InvalidJobError,
  Job,
  JobGroup,
  Schedule,
  schedule,
  ScheduledJob,
  Scheduler,
  SchedulerHandle,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { T0 } from "./_engine_helpers.ts";

const MINUTE = 60_000;
const CONTROLS = [
  "triggerNow",
  "pause",
  "resume",
  "cancel",
  "shutdown",
  "nextRun",
  "nextRuns",
] as const;

function assertControls(handle: object, name: string): void {
  for (const control of CONTROLS) {
    assert.equal(
      typeof (handle as Record<string, unknown>)[control],
      "function",
      `${name}.${control}`,
    );
  }
  assert.ok(
    (handle as { done: unknown }).done instanceof Promise,
    `${name}.done`,
  );
  assert.equal(typeof (handle as { paused: unknown }).paused, "boolean");
}

Deno.test("schedule(), JobGroup entries and Scheduler.handle() share the same controls", async () => {
  await withFakeClock(T0, async (clock) => {
    const job = schedule({ everyMs: MINUTE }, () => {});
    const group = new JobGroup();
    const entry = group.schedule(
      { everyMs: MINUTE },
      { jobId: "entry" },
      () => {},
    );
    assert.ok(job instanceof SchedulerHandle && job instanceof ScheduledJob);
    assert.ok(entry instanceof SchedulerHandle);
    assertControls(job, "schedule()");
    assertControls(entry, "JobGroup entry");
    assertControls(job.scheduler.handle(), "Scheduler.handle()");
    // The same state behind every handle of one scheduler.
    job.pause();
    assert.equal(job.scheduler.handle().paused, true);
    job.scheduler.handle().resume();
    assert.equal(job.paused, false);
    job.cancel();
    group.cancel();
    await clock.tickAsync(1);
    assert.equal((await job.done).stopReason, "cancelled");
    await group.done();
  });
});

Deno.test("triggerNow on the handle schedule() returns runs the job once, outside its schedule", async () => {
  await withFakeClock(T0, async () => {
    const manual: boolean[] = [];
    const job = schedule(
      "0 3 * * *",
      ({ run }) => void manual.push(run.manual),
    );
    // Called before the state is loaded, it waits for the load.
    const record = await job.triggerNow();
    assert.equal(record.manual, true);
    assert.equal(record.status, "success");
    assert.deepEqual(manual, [true]);
    job.shutdown();
    const report = await job.done;
    assert.equal(report.state.triggerCount, 0, "no occurrence consumed");
  });
});

Deno.test("nextRun and nextRuns agree across handles and with Schedule.nextRuns, within maxRuns", async () => {
  await withFakeClock(T0, async (clock) => {
    const job = schedule(
      "0 3 * * *",
      { timezone: "Europe/Berlin", maxRuns: 3 },
      () => {},
    );
    const handle = job.scheduler.handle();
    const runs = await job.nextRuns(10);
    assert.equal(runs.length, 3, "capped by maxRuns");
    assert.deepEqual(
      runs.map((at) => at.toISOString()),
      Schedule.nextRuns(Schedule.cron("0 3 * * *"), 3, {
        from: new Date(T0),
        timezone: "Europe/Berlin",
      }).map((at) => at.toISOString()),
    );
    assert.deepEqual(await handle.nextRuns(10), runs);
    assert.equal((await handle.nextRun())?.getTime(), runs[0].getTime());
    assert.deepEqual(await job.nextRuns(0), []);
    await assert.rejects(() => job.nextRuns(-1), InvalidJobError);
    await assert.rejects(() => job.nextRuns(1.5), InvalidJobError);
    // After one run, the list moves on by one.
    await clock.tickAsync(runs[0].getTime() - T0 + 1);
    assert.deepEqual(
      (await job.nextRuns(10)).map((at) => at.getTime()),
      runs.slice(1).map((at) => at.getTime()),
    );
    job.cancel();
    await job.done;
    assert.equal(
      await new Scheduler({}, new InMemoryStateStore()).handle()
        .nextRun(),
      null,
      "no run yet: no next run",
    );
  });
});

Deno.test("Scheduler.handle().done settles with the run's report, or rejects like run() without an unhandled rejection", async () => {
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  const handle = scheduler.handle();
  const done = handle.done; // taken before run() starts: the next run
  const report = await scheduler.run(
    Job.withoutDeps(
      "once",
      Schedule.atTimes([Date.now()]),
      Task.fromSync(() => {}),
    ),
  );
  assert.equal(await done, report);
  // A failing run(): the handle's done rejects with run()'s error.
  const store = {
    load: () => Promise.reject(new Error("store down")),
    save: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  };
  const job = Job.withoutDeps(
    "x",
    Schedule.interval(MINUTE),
    Task.fromSync(() => {}),
  );
  const failing = new Scheduler({}, store);
  const failingDone = failing.handle().done;
  const error = await failing.run(job).catch((e) => e);
  assert.ok(error instanceof Error);
  assert.equal(await failingDone.catch((e) => e), error);
  // Nobody awaits this one: the test (which fails on an unhandled
  // rejection) still passes.
  const unobserved = new Scheduler({}, store);
  void unobserved.handle().done;
  await assert.rejects(unobserved.run(job));
});
