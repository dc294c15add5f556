/**
 * The one-call `schedule()`, `nextRuns`, the handle's next run, and several
 * jobs sharing one store, guard and shutdown signal.
 */
import assert from "node:assert/strict";
import {
  CronSchedule,
  InMemoryStateStore,
  InvalidJobError,
  NoopExecutionGuard,
  Schedule,
  schedule,
  Task,
} from "../mod.ts";
import { readFirstLine } from "./_child_output.ts";
import { withFakeClock } from "./_fake_time.ts";
import { settle, T0 } from "./_engine_helpers.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const MINUTE = 60_000;

Deno.test("schedule(): every 10 minutes with a plain function, stopped by a signal", async () => {
  await withFakeClock(T0, async (clock) => {
    const controller = new AbortController();
    const ticks: number[] = [];
    const job = schedule(
      { everyMs: 10 * MINUTE },
      { signal: controller.signal },
      () => void ticks.push(Date.now()),
    );
    assert.equal(job.jobId, "every 600000 ms");
    await clock.tickAsync(25 * MINUTE);
    assert.deepEqual(ticks, [T0 + 10 * MINUTE, T0 + 20 * MINUTE]);
    controller.abort();
    const report = await settle(clock, job.done);
    assert.equal(report.stopReason, "cancelled");
    assert.equal(report.history.length, 2);
  });
});

Deno.test("schedule(): a cron string in a time zone; the handle says the next run", async () => {
  // 2026-04-03T01:02:03Z is 03:02 in Berlin (CEST): the next 03:00 is tomorrow.
  await withFakeClock(T0, async (clock) => {
    const seen: string[] = [];
    const job = schedule(
      "0 3 * * *",
      { timezone: "Europe/Berlin", maxRuns: 2 },
      async ({ run }) => {
        seen.push(`${run.timezone} ${run.scheduledAt.toISOString()}`);
        await Promise.resolve();
      },
    );
    const first = await settle(clock, job.nextRun());
    assert.equal(first?.toISOString(), "2026-04-04T01:00:00.000Z");
    await clock.tickAsync(Date.parse("2026-04-04T01:00:00Z") - Date.now());
    await clock.tickAsync(0);
    assert.deepEqual(seen, ["Europe/Berlin 2026-04-04T01:00:00.000Z"]);
    const second = await job.nextRun();
    assert.equal(second?.toISOString(), "2026-04-05T01:00:00.000Z");
    const report = await settle(clock, job.done);
    assert.equal(report.stopReason, "terminal");
    assert.equal(await job.nextRun(), null, "exhausted");
  });
});

Deno.test("schedule(): a Schedule, a CronSchedule or a Task; a throwing function is a failed run", async () => {
  await withFakeClock(T0, async (clock) => {
    const atTimes = schedule(
      Schedule.atTimes([T0 + 1000, T0 + 2000]),
      () => {
        throw new Error("boom");
      },
    );
    const report = await settle(clock, atTimes.done);
    assert.deepEqual(report.history.map((run) => run.status), [
      "failed",
      "failed",
    ]);
    assert.equal(report.history[0].error, "boom");

    let runs = 0;
    const cron = schedule(
      CronSchedule.parse("* * * * *"),
      { maxRuns: 1, jobId: "minutely" },
      Task.fromSync(() => void runs++),
    );
    assert.equal(cron.jobId, "minutely");
    assert.equal((await settle(clock, cron.done)).stopReason, "terminal");
    assert.equal(runs, 1);
  });
});

Deno.test("schedule(): pause, resume and shutdown through the handle", async () => {
  await withFakeClock(T0, async (clock) => {
    let runs = 0;
    const job = schedule({ everyMs: 1000 }, () => void runs++);
    job.pause();
    assert.equal(job.paused, true);
    await clock.tickAsync(5000);
    assert.equal(runs, 0);
    job.resume();
    await clock.tickAsync(0);
    assert.equal(runs, 1, "one catch-up run for what came due");
    job.shutdown();
    assert.equal((await settle(clock, job.done)).stopReason, "shutdown");
  });
});

Deno.test("schedule(): bad input is an InvalidJobError, synchronously", () => {
  const noop = () => {};
  const invalid = (pattern: RegExp) => (error: unknown) =>
    error instanceof InvalidJobError && pattern.test(error.message);
  assert.throws(
    () => schedule({ everyMs: 1000 }, { timzone: "UTC" } as Any, noop),
    invalid(/"timzone"/),
  );
  assert.throws(
    () => schedule({ every: 1000 } as Any, noop),
    invalid(/"every"/),
  );
  assert.throws(() => schedule({} as Any, noop), invalid(/needs everyMs/));
  assert.throws(
    () => schedule({ everyMs: 0 }, noop),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "zero-interval",
  );
  assert.throws(
    () => schedule("61 * * * *", noop),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "cron-expression",
  );
  assert.throws(
    () => schedule({ everyMs: 1000 }, "task" as Any),
    invalid(/needs a task/),
  );
  assert.throws(
    () => schedule({ everyMs: 1000 }, {}, undefined as Any),
    invalid(/needs a task/),
  );
  assert.throws(
    () =>
      schedule({ everyMs: 1000 }, { store: new InMemoryStateStore() }, noop),
    invalid(/needs a jobId when a store or guard is given/),
  );
  assert.throws(
    () =>
      schedule({ everyMs: 1000 }, { guard: new NoopExecutionGuard() }, noop),
    invalid(/needs a jobId/),
  );
  assert.throws(
    () => schedule({ everyMs: 1000 }, { signal: "stop" as Any }, noop),
    invalid(/signal must be an AbortSignal/),
  );
  assert.throws(
    () => schedule({ everyMs: 1000 }, { timezone: "Mars/Base" }, noop),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "timezone",
  );
});

Deno.test("CronSchedule.nextRuns lists occurrences across a DST gap; UTC by default", () => {
  const cron = CronSchedule.parse("30 2 * * *");
  const from = new Date("2026-03-07T12:00:00Z");
  const ny = cron.nextRuns(3, from, "America/New_York").map((date) =>
    date.toISOString()
  );
  // 02:30 on 2026-03-08 does not exist in New York: it fires once at 03:00 EDT.
  assert.deepEqual(ny, [
    "2026-03-08T07:00:00.000Z",
    "2026-03-09T06:30:00.000Z",
    "2026-03-10T06:30:00.000Z",
  ]);
  assert.deepEqual(
    cron.nextRuns(2, from).map((date) => date.toISOString()),
    ["2026-03-08T02:30:00.000Z", "2026-03-09T02:30:00.000Z"],
  );
  assert.deepEqual(cron.nextRuns(0, from), []);
  for (const bad of [-1, 1.5, 10_001, "3"]) {
    assert.throws(() => cron.nextRuns(bad as Any, from), InvalidJobError);
  }
  assert.throws(() => cron.nextRuns(1, "2026-03-07" as Any), InvalidJobError);
});

Deno.test("Schedule.nextRuns for an interval, at-times and cron; from defaults to now", async () => {
  const from = new Date("2026-04-03T10:00:00Z");
  assert.deepEqual(
    Schedule.nextRuns(Schedule.interval(10 * MINUTE), 2, { from }).map((d) =>
      d.toISOString()
    ),
    ["2026-04-03T10:10:00.000Z", "2026-04-03T10:20:00.000Z"],
  );
  const times = Schedule.atTimes([
    "2026-04-03T09:00:00Z",
    "2026-04-03T11:00:00Z",
    "2026-04-03T12:00:00Z",
  ]);
  assert.deepEqual(
    Schedule.nextRuns(times, 5, { from }).map((d) => d.toISOString()),
    ["2026-04-03T11:00:00.000Z", "2026-04-03T12:00:00.000Z"],
    "only what is left, strictly after from",
  );
  assert.deepEqual(
    Schedule.nextRuns(Schedule.cron("0 9 * * *"), 1, {
      from,
      timezone: "Asia/Shanghai",
    })
      .map((d) => d.toISOString()),
    ["2026-04-04T01:00:00.000Z"],
  );
  await withFakeClock(T0, () => {
    assert.deepEqual(Schedule.nextRuns(Schedule.interval(1000), 1), [
      new Date(T0 + 1000),
    ]);
  });
  assert.throws(
    () => Schedule.nextRuns(Schedule.interval(1000), 1, { form: from } as Any),
    InvalidJobError,
  );
  assert.throws(
    () => Schedule.nextRuns({ kind: "nope" } as Any, 1),
    InvalidJobError,
  );
});

Deno.test("the every-10-minutes quick start in the README is at most 3 formatted lines", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const lines = readme.split("\n");
  const start = lines.findIndex((line) =>
    line.includes("schedule({ everyMs: 600_000 }")
  );
  assert.ok(start >= 0, "the README shows schedule({ everyMs: 600_000 }, ...)");
  let end = start;
  while (!lines[end].trimEnd().endsWith(");")) end++;
  assert.ok(end - start + 1 <= 3, `${end - start + 1} lines`);
});

Deno.test("the README quick start is at most 10 lines, comes first, and runs when pasted", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const lines = readme.split("\n");
  const heading = lines.indexOf("## Quick start");
  assert.ok(heading >= 0 && heading < 10, "the quick start opens the README");
  const open = lines.findIndex((line, i) =>
    i > heading && line.startsWith("```ts")
  );
  const close = lines.indexOf("```", open + 1);
  const block = lines.slice(open + 1, close);
  assert.ok(block.length <= 10, `${block.length} lines`);
  assert.ok(close < 30, "a runnable job within the first 30 lines");
  // Pasted into a file of a project that has the package, it starts and
  // tells its next run; then it would tick forever, so it is killed.
  const dir = new URL("../.data/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const file = new URL(`quick_start_${crypto.randomUUID()}.ts`, dir);
  await Deno.writeTextFile(file, block.join("\n"));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", file.pathname],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const output = await readFirstLine(reader);
    assert.match(output, /^next run: \d{4}-\d\d-\d\dT/);
    reader.releaseLock();
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel();
    await Deno.remove(file);
  }
});

Deno.test("schedule(): run controls and delivery are options too", async () => {
  await withFakeClock(T0, async (clock) => {
    const attempts: { attempt: number; jitterMs: number; aborted: boolean }[] =
      [];
    const job = schedule(
      { everyMs: MINUTE },
      {
        maxRuns: 1,
        runTimeoutMs: 1_000,
        retry: { attempts: 2, backoffMs: [100] },
        jitterMs: 5_000,
        delivery: "at-least-once",
      },
      async ({ run, signal }) => {
        attempts.push({
          attempt: run.attempt,
          jitterMs: run.jitterMs,
          aborted: signal.aborted,
        });
        // Longer than the time limit: the attempt times out.
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      },
    );
    const report = await settle(clock, job.done);
    assert.deepEqual(report.history.map((run) => run.status), [
      "timed-out",
      "timed-out",
    ]);
    assert.deepEqual(attempts.map((a) => a.attempt), [1, 2]);
    assert.ok(attempts.every((a) => a.jitterMs === attempts[0].jitterMs));
    assert.ok(attempts[0].jitterMs > 0 && attempts[0].jitterMs < 5_000);
  });
  assert.throws(
    () => schedule({ everyMs: MINUTE }, { delivery: "twice" as Any }, () => {}),
    InvalidJobError,
  );
  assert.throws(
    () =>
      schedule(
        { everyMs: MINUTE },
        { retry: { attempts: 0 } as Any },
        () => {},
      ),
    InvalidJobError,
  );
});
