/**
 * The tests users write with fake time give the same runs, records and events
 * on sinon, on std's FakeTime and on std's next FakeTime, every time: each
 * pattern runs 20 times per clock, and every expected instant is written out
 * here, not taken from the scheduler.
 */
import { assert, assertEquals } from "@std/assert";
import {
  InMemoryStateStore,
  Job,
  JobGroup,
  OverlapPolicy,
  Schedule,
  schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { delay, recordEvents } from "./_engine_helpers.ts";
import {
  type Installer,
  TEST_CLOCKS,
  within,
  withTestClock,
} from "./_test_clocks.ts";

const START = Date.UTC(2026, 3, 3); // 2026-04-03T00:00:00Z
const REPEAT = 20;
const at = (iso: string) => Date.parse(iso);

for (const { name: clockName, install, reason } of TEST_CLOCKS) {
  const test = (name: string, fn: (install: Installer) => Promise<void>) =>
    Deno.test({
      name: `${clockName}: ${name}${reason ? ` (skipped: ${reason})` : ""}`,
      ignore: install === undefined,
      async fn() {
        for (let round = 0; round < REPEAT; round++) await fn(install!);
      },
    });

  test("tick, idle, assert: a 25-minute tick shows all five runs, and a cancel right after keeps them", async (install) => {
    await withTestClock(install, START, async (clock) => {
      const ran: string[] = [];
      const job = schedule({ everyMs: 5 * 60_000 }, ({ run }) => {
        ran.push(run.scheduledAt.toISOString());
      });
      await clock.tickAsync(25 * 60_000);
      await job.idle();
      assertEquals(ran, [
        "2026-04-03T00:05:00.000Z",
        "2026-04-03T00:10:00.000Z",
        "2026-04-03T00:15:00.000Z",
        "2026-04-03T00:20:00.000Z",
        "2026-04-03T00:25:00.000Z",
      ]);
      job.cancel();
      const report = await within(job.done, "done");
      assertEquals(report.stopReason, "cancelled");
      assertEquals(report.state.triggerCount, 5);
      assertEquals(report.history.map((run) => run.status), [
        "success",
        "success",
        "success",
        "success",
        "success",
      ]);
    });
  });

  test("nextAsync stepping: each step brings exactly the next run", async (install) => {
    await withTestClock(install, START, async (clock) => {
      const ran: string[] = [];
      const job = schedule(
        { everyMs: 60_000 },
        { maxRuns: 3 },
        ({ run }) => void ran.push(run.scheduledAt.toISOString()),
      );
      await job.idle();
      const expected = [
        "2026-04-03T00:01:00.000Z",
        "2026-04-03T00:02:00.000Z",
        "2026-04-03T00:03:00.000Z",
      ];
      for (let step = 1; step <= 3; step++) {
        assert(
          await clock.nextAsync(),
          `a timer is pending before step ${step}`,
        );
        await job.idle();
        assertEquals(ran, expected.slice(0, step), `after step ${step}`);
        assertEquals(Date.now(), at(expected[step - 1]));
      }
      assertEquals((await within(job.done, "done")).stopReason, "terminal");
    });
  });

  test("runAllAsync on a job that ends, its last run awaiting a fake delay: run() settles", async (install) => {
    await withTestClock(install, START, async (clock) => {
      const finished: number[] = [];
      const job = schedule(
        { everyMs: 1_000 },
        { maxRuns: 3 },
        async () => {
          await delay(300);
          finished.push(Date.now());
        },
      );
      await within(clock.runAllAsync(), "runAllAsync()");
      const report = await within(job.done, "done");
      assertEquals(report.stopReason, "terminal");
      assertEquals(finished, [
        at("2026-04-03T00:00:01.300Z"),
        at("2026-04-03T00:00:02.300Z"),
        at("2026-04-03T00:00:03.300Z"),
      ]);
      assertEquals(report.history.map((run) => run.status), [
        "success",
        "success",
        "success",
      ]);
    });
  });

  test("cancel() from inside a task: exactly the runs up to it, the task's signal aborted", async (install) => {
    await withTestClock(install, START, async (clock) => {
      let aborted: boolean | undefined;
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const handle = scheduler.handle();
      const job = Job.withoutDeps(
        "self-cancel",
        Schedule.interval(1_000),
        Task.fromSync(({ run, signal }) => {
          if (run.triggerCount === 2) {
            handle.cancel(new Error("enough"));
            aborted = signal.aborted;
          }
        }),
      );
      const running = scheduler.run(job);
      await clock.tickAsync(10_000);
      await handle.idle();
      const report = await within(running, "run()");
      assertEquals(report.stopReason, "cancelled");
      assertEquals(aborted, true);
      assertEquals(report.history.map((run) => run.scheduledAt.getTime()), [
        at("2026-04-03T00:00:01Z"),
        at("2026-04-03T00:00:02Z"),
      ]);
    });
  });

  test("several JobGroup jobs in one tick: each runs at its own instants", async (install) => {
    await withTestClock(install, START, async (clock) => {
      const ran: string[] = [];
      const jobs = new JobGroup();
      for (const [jobId, everyMs] of [["a", 1_000], ["b", 1_500]] as const) {
        jobs.schedule({ everyMs }, { jobId }, ({ run }) => {
          ran.push(`${jobId}@${run.scheduledAt.toISOString().slice(17, 23)}`);
        });
      }
      await clock.tickAsync(3_000);
      await jobs.idle();
      assertEquals(ran.filter((r) => r.startsWith("a")), [
        "a@01.000",
        "a@02.000",
        "a@03.000",
      ]);
      assertEquals(ran.filter((r) => r.startsWith("b")), [
        "b@01.500",
        "b@03.000",
      ]);
      jobs.cancel();
      const reports = await within(jobs.done(), "done()");
      assertEquals(reports.map((report) => report.history.length), [3, 2]);
    });
  });

  test("pause and resume across a tick: nothing while paused, one catch-up after", async (install) => {
    await withTestClock(install, START, async (clock) => {
      const ran: [string, boolean][] = [];
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const events = recordEvents(scheduler);
      const handle = scheduler.handle();
      const running = scheduler.run(
        Job.withoutDeps(
          "pause",
          Schedule.interval(1_000),
          Task.fromSync(({ run }) =>
            void ran.push([run.scheduledAt.toISOString(), run.catchUp])
          ),
        ).withMaxRuns(4), // the missed occurrence counts too
      );
      await clock.tickAsync(1_000);
      await handle.idle();
      assertEquals(ran.length, 1);
      handle.pause();
      await clock.tickAsync(2_500);
      await handle.idle();
      assertEquals(ran.length, 1, "nothing runs while paused");
      handle.resume();
      await handle.idle();
      await clock.tickAsync(500);
      await handle.idle();
      await within(running, "run()");
      assertEquals(ran, [
        ["2026-04-03T00:00:01.000Z", false],
        ["2026-04-03T00:00:03.000Z", true],
        ["2026-04-03T00:00:04.000Z", false],
      ]);
      assertEquals(
        events.flatMap((e) =>
          e.type === "run-skipped" ? [[e.count, e.reason]] : []
        ),
        [[1, "missed"]],
      );
    });
  });

  test("triggerNow() right after idle(): the tick's run is done, so forbid does not refuse it", async (install) => {
    await withTestClock(install, START, async (clock) => {
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const handle = scheduler.handle();
      const running = scheduler.run(
        Job.withoutDeps(
          "manual",
          Schedule.interval(60_000),
          Task.fromAsync(async () => {
            for (let i = 0; i < 10; i++) await Promise.resolve();
          }),
        ).withOverlapPolicy(OverlapPolicy.Forbid),
      );
      await clock.tickAsync(60_000);
      await handle.idle();
      const record = await within(handle.triggerNow(), "triggerNow()");
      assertEquals([record.manual, record.status], [true, "success"]);
      handle.shutdown();
      const report = await within(running, "run()");
      assertEquals(report.history.map((run) => run.manual ?? false), [
        false,
        true,
      ]);
    });
  });

  for (
    const [overlap, taskMs, stepMs, expected, overlaps] of [
      [OverlapPolicy.Forbid, 1_500, 500, [1, 3, 5], 2],
      [OverlapPolicy.QueueOne, 1_250, 250, [1, 2, 3, 4], 0],
    ] as const
  ) {
    test(`${overlap} with a task awaiting a fake delay, in steps no longer than the task`, async (install) => {
      await withTestClock(install, START, async (clock) => {
        const started: number[] = [];
        let running = 0;
        let peak = 0;
        const scheduler = new Scheduler({}, new InMemoryStateStore());
        const events = recordEvents(scheduler);
        const handle = scheduler.handle();
        const done = scheduler.run(
          Job.withoutDeps(
            "slow",
            Schedule.interval(1_000),
            Task.fromAsync(async () => {
              started.push(Date.now() - START);
              peak = Math.max(peak, ++running);
              await delay(taskMs);
              running--;
            }),
          ).withOverlapPolicy(overlap),
        );
        for (let t = 0; t < 5_500; t += stepMs) {
          await clock.tickAsync(stepMs);
          await handle.idle();
        }
        handle.shutdown();
        for (let t = 0; t < 2 * taskMs; t += stepMs) {
          await clock.tickAsync(stepMs);
          await handle.idle();
        }
        const report = await within(done, "run()");
        assertEquals(peak, 1);
        assertEquals(
          report.history.map((run) =>
            (run.scheduledAt.getTime() - START) / 1_000
          ),
          [...expected],
        );
        if (overlap === OverlapPolicy.QueueOne) {
          assertEquals(started, [1_000, 2_250, 3_500, 4_750]);
        } else {
          assertEquals(started, [1_000, 3_000, 5_000]);
        }
        assertEquals(
          events.flatMap((e) =>
            e.type === "run-skipped" && e.reason === "overlap" ? [e.count] : []
          ).reduce((sum, n) => sum + n, 0),
          overlaps,
        );
        assertEquals(report.stopReason, "shutdown");
      });
    });
  }
}

Deno.test("idle() under real time: resolves while the job sleeps until its next occurrence, and at once with no run", async () => {
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  const handle = scheduler.handle();
  await handle.idle(); // no run() active
  const ran: number[] = [];
  const running = scheduler.run(
    Job.withoutDeps(
      "real",
      Schedule.interval(40),
      Task.fromSync(() => void ran.push(Date.now())),
    ).withMaxRuns(2),
  );
  await handle.idle();
  assertEquals(ran.length, 0, "idle before the first occurrence");
  const report = await within(running, "run()");
  assertEquals(report.history.length, 2);
  await handle.idle(); // the run has ended
  await new JobGroup().idle(); // no jobs
});
