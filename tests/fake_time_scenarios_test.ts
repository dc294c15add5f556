/**
 * A single `tickAsync(total)` runs every occurrence at its own instant, under
 * sinon, std's FakeTime and std's next FakeTime (tests/_test_clocks.ts), with
 * the same results; nothing hangs.
 */
import { assert, assertEquals } from "@std/assert";
import { DAY, HOUR, SECOND } from "@std/datetime/constants";
import {
  InMemoryStateStore,
  Job,
  type JobState,
  MissedRunPolicy,
  OverlapPolicy,
  ResilientStateStore,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  sleepUntil,
  type StateStore,
  StoreError,
  Task,
} from "../mod.ts";
import { Concurrency, delay, recordEvents } from "./_engine_helpers.ts";
import { TEST_CLOCKS, within, withTestClock } from "./_test_clocks.ts";

const iso = (ms: number) => new Date(ms).toISOString();

interface Ran {
  scheduledAt: string;
  catchUp: boolean;
}

/** A job that records what it ran. */
function recordingJob(
  id: string,
  schedule: Schedule,
): { job: Job<undefined>; ran: Ran[] } {
  const ran: Ran[] = [];
  const job = Job.withoutDeps(
    id,
    schedule,
    Task.fromSync(({ run }) =>
      void ran.push({
        scheduledAt: run.scheduledAt.toISOString(),
        catchUp: run.catchUp,
      })
    ),
  );
  return { job, ran };
}

function skipped(events: SchedulerEvent[]) {
  return events.flatMap((event) =>
    event.type === "run-skipped"
      ? [{ count: event.count, reason: event.reason }]
      : []
  );
}

for (const { name: clockName, install: available, reason } of TEST_CLOCKS) {
  const jumps = clockName === "sinon";
  const install = available!;
  const test = (name: string, fn: () => Promise<void>, only = true) => {
    // A scenario a clock cannot play (a wall-clock jump under std's
    // FakeTime, which fires timers when set) is not registered for it.
    if (!only) return;
    Deno.test({
      name: `${clockName}: ${name}${reason ? ` (skipped: ${reason})` : ""}`,
      ignore: available === undefined,
      fn,
    });
  };

  test("the README example: one tick of two days runs both nightly runs", async () => {
    await withTestClock(install, Date.UTC(2026, 0, 1), async (clock) => {
      const { job, ran } = recordingJob("nightly", Schedule.cron("0 3 * * *"));
      const running = new Scheduler(
        { timezone: "Europe/Berlin" },
        new InMemoryStateStore(),
      ).run(job.withMaxRuns(2));
      await clock.tickAsync(2 * DAY);
      const report = await within(running, "run()");
      assertEquals(ran, [
        { scheduledAt: "2026-01-01T02:00:00.000Z", catchUp: false },
        { scheduledAt: "2026-01-02T02:00:00.000Z", catchUp: false },
      ]);
      assertEquals(report.stopReason, "terminal");
      assertEquals(Number(clock.hasPendingTimer()), 0, "no timer left behind");
    });
  });

  test("interval x5: one tick of 5 s runs five on-time runs, none missed", async () => {
    const start = Date.UTC(2026, 3, 3);
    await withTestClock(install, start, async (clock) => {
      const { job, ran } = recordingJob("five", Schedule.interval(SECOND));
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const events = recordEvents(scheduler);
      const running = scheduler.run(job.withMaxRuns(5));
      await clock.tickAsync(5 * SECOND);
      const report = await within(running, "run()");
      assertEquals(
        ran,
        [1, 2, 3, 4, 5].map((n) => ({
          scheduledAt: iso(start + n * SECOND),
          catchUp: false,
        })),
      );
      assertEquals(skipped(events), []);
      assertEquals(report.state.triggerCount, 5);
      assertEquals(report.history.length, 5);
    });
  });

  // Written out from the zones' rules (2026: New York springs forward on
  // 8 March and falls back on 1 November, Berlin on 29 March and 25 October)
  // and the default DST policy: a time in the gap runs at the gap's end, a
  // time in the overlap runs at its first instant.
  for (
    const [zone, from, cron, expected] of [
      ["America/New_York", Date.UTC(2026, 2, 6), "30 2 * * *", [
        "2026-03-06T07:30:00.000Z", // 02:30 EST
        "2026-03-07T07:30:00.000Z",
        "2026-03-08T07:00:00.000Z", // 02:30 does not exist: 03:00 EDT
        "2026-03-09T06:30:00.000Z", // 02:30 EDT
        "2026-03-10T06:30:00.000Z",
      ]],
      ["America/New_York", Date.UTC(2026, 9, 30), "30 1 * * *", [
        "2026-10-30T05:30:00.000Z", // 01:30 EDT
        "2026-10-31T05:30:00.000Z",
        "2026-11-01T05:30:00.000Z", // 01:30 happens twice: the EDT one
        "2026-11-02T06:30:00.000Z", // 01:30 EST
        "2026-11-03T06:30:00.000Z",
      ]],
      ["Europe/Berlin", Date.UTC(2026, 2, 27), "30 2 * * *", [
        "2026-03-27T01:30:00.000Z", // 02:30 CET
        "2026-03-28T01:30:00.000Z",
        "2026-03-29T01:00:00.000Z", // 02:30 does not exist: 03:00 CEST
        "2026-03-30T00:30:00.000Z", // 02:30 CEST
        "2026-03-31T00:30:00.000Z",
      ]],
      ["Europe/Berlin", Date.UTC(2026, 9, 23), "30 2 * * *", [
        "2026-10-23T00:30:00.000Z", // 02:30 CEST
        "2026-10-24T00:30:00.000Z",
        "2026-10-25T00:30:00.000Z", // 02:30 happens twice: the CEST one
        "2026-10-26T01:30:00.000Z", // 02:30 CET
        "2026-10-27T01:30:00.000Z",
      ]],
    ] as const
  ) {
    test(`cron "${cron}" in ${zone} across the DST change from ${iso(from)}: every occurrence in one tick`, async () => {
      await withTestClock(install, from, async (clock) => {
        const { job, ran } = recordingJob("dst", Schedule.cron(cron));
        const scheduler = new Scheduler(
          { timezone: zone },
          new InMemoryStateStore(),
        );
        const events = recordEvents(scheduler);
        const running = scheduler.run(job.withMaxRuns(expected.length));
        await clock.tickAsync(5 * DAY);
        await within(running, "run()");
        assertEquals(ran.map((run) => run.scheduledAt), [...expected]);
        assert(ran.every((run) => !run.catchUp), "all on time");
        assertEquals(skipped(events), []);
      });
    });
  }

  test("at-times 400 days out: not one millisecond early, on time", async () => {
    const start = Date.UTC(2026, 0, 1);
    const at = start + 400 * DAY;
    await withTestClock(install, start, async (clock) => {
      const { job, ran } = recordingJob("far", Schedule.atTimes([at]));
      const running = new Scheduler({}, new InMemoryStateStore()).run(job);
      await clock.tickAsync(400 * DAY - 1);
      assertEquals(ran, [], "not one millisecond early");
      await clock.tickAsync(1);
      await within(running, "run()");
      assertEquals(ran, [{ scheduledAt: iso(at), catchUp: false }]);
    });
  });

  test("withJitter: one tick runs each occurrence at its jittered instant, on time", async () => {
    const start = Date.UTC(2026, 3, 3);
    await withTestClock(install, start, async (clock) => {
      const started: number[] = [];
      const jitters: number[] = [];
      const job = Job.withoutDeps(
        "jittered",
        Schedule.interval(10 * SECOND),
        Task.fromSync(({ run }) => {
          started.push(Date.now());
          jitters.push(run.jitterMs);
        }),
      ).withJitter(3 * SECOND).withMaxRuns(4);
      const running = new Scheduler({}, new InMemoryStateStore()).run(job);
      await clock.tickAsync(45 * SECOND);
      const report = await within(running, "run()");
      assertEquals(
        report.history.map((run) => run.scheduledAt.getTime()),
        [1, 2, 3, 4].map((n) => start + n * 10 * SECOND),
      );
      assert(
        report.history.every((run) => run.status === "success" && !run.catchUp),
      );
      assertEquals(started.length, 4);
      assert(
        jitters.every((ms) => 0 <= ms && ms < 3 * SECOND),
        `${jitters}`,
      );
      assert(jitters.some((ms) => ms > 0), "some run is jittered");
      // Where the clock lets each run start inside its own timer's instant
      // (not std's FakeTime, which fires the whole tick's timers first and
      // lets the runs start after: docs/testing.md), the clock itself says
      // that each run started at its occurrence plus its jitter.
      if (clockName !== "std FakeTime") {
        assertEquals(
          started,
          jitters.map((ms, n) => start + (n + 1) * 10 * SECOND + ms),
        );
      }
    });
  });

  // A backoff or a time limit is armed when a run ends or starts, after the
  // pass under FakeTime: step by no more than the shortest of them (README).
  test("retries with backoff, a run timeout and at-least-once delivery, in 1 s steps with idle(): the same records on every clock", async () => {
    const start = Date.UTC(2026, 3, 3);
    await withTestClock(install, start, async (clock) => {
      let calls = 0;
      const job = Job.withoutDeps(
        "controls",
        Schedule.interval(10 * SECOND),
        Task.fromAsync(async ({ run }) => {
          calls++;
          if (run.attempt === 1) throw new Error("first attempt fails");
          if (run.triggerCount === 2) {
            await delay(3 * SECOND); // past the time limit
          }
        }),
      )
        .withRetry({ attempts: 2, backoffMs: [SECOND] })
        .withRunTimeout(2 * SECOND)
        .withDelivery("at-least-once")
        .withMaxRuns(2);
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const running = scheduler.run(job);
      for (let step = 0; step < 30; step++) {
        await clock.tickAsync(SECOND);
        await within(scheduler.handle().idle(), "idle()");
      }
      const report = await within(running, "run()");
      assertEquals(
        report.history.map((run) => [
          run.scheduledAt.getTime() - start,
          run.attempt ?? 1,
          run.status,
        ]),
        [
          [10 * SECOND, 1, "failed"],
          [10 * SECOND, 2, "success"],
          [20 * SECOND, 1, "failed"],
          [20 * SECOND, 2, "timed-out"],
        ],
      );
      assertEquals(calls, 4);
    });
  });

  test("a single tick across 400 days runs the far occurrence on time", async () => {
    const start = Date.UTC(2026, 0, 1);
    const at = start + 400 * DAY;
    await withTestClock(install, start, async (clock) => {
      const { job, ran } = recordingJob("far", Schedule.atTimes([at]));
      const running = new Scheduler({}, new InMemoryStateStore()).run(job);
      await clock.tickAsync(401 * DAY);
      await within(running, "run()");
      assertEquals(ran, [{ scheduledAt: iso(at), catchUp: false }]);
    });
  });

  test(
    "a wall clock jumped forward 3 h: one catch-up run, the rest reported missed",
    async () => {
      const start = Date.UTC(2026, 3, 3);
      await withTestClock(install, start, async (clock) => {
        const { job, ran } = recordingJob("jump", Schedule.interval(HOUR / 4));
        const scheduler = new Scheduler({}, new InMemoryStateStore());
        const events = recordEvents(scheduler);
        const controller = new AbortController();
        const running = scheduler.run(job, { signal: controller.signal });
        await clock.tickAsync(0);
        clock.jump!(3 * HOUR);
        await clock.tickAsync(HOUR / 4);
        controller.abort();
        await within(running, "run()");
        assertEquals(ran.length, 1);
        assertEquals(ran[0].catchUp, true);
        // The pending timer fires 15 min after the jump, as it would have.
        assertEquals(ran[0].scheduledAt, iso(start + 3 * HOUR + HOUR / 4));
        assertEquals(skipped(events), [{ count: 12, reason: "missed" }]);
      });
    },
    jumps,
  );

  test("pause, then resume after two occurrences: one catch-up run", async () => {
    const start = Date.UTC(2026, 3, 3);
    await withTestClock(install, start, async (clock) => {
      const { job, ran } = recordingJob("pause", Schedule.interval(SECOND));
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const events = recordEvents(scheduler);
      const handle = scheduler.handle();
      const running = scheduler.run(job.withMaxRuns(4));
      await clock.tickAsync(SECOND);
      await handle.idle();
      handle.pause();
      await clock.tickAsync(2.5 * SECOND);
      await handle.idle();
      assertEquals(ran.length, 1, "nothing runs while paused");
      handle.resume();
      await handle.idle();
      await clock.tickAsync(SECOND);
      await handle.idle();
      await within(running, "run()");
      assertEquals(ran, [
        { scheduledAt: iso(start + SECOND), catchUp: false },
        { scheduledAt: iso(start + 3 * SECOND), catchUp: true },
        { scheduledAt: iso(start + 4 * SECOND), catchUp: false },
      ]);
      assertEquals(skipped(events), [{ count: 1, reason: "missed" }]);
    });
  });

  test("cancel between occurrences: cancelled, no timer left", async () => {
    await withTestClock(install, Date.UTC(2026, 3, 3), async (clock) => {
      const { job, ran } = recordingJob("cancel", Schedule.interval(SECOND));
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const running = scheduler.run(job);
      await clock.tickAsync(2.5 * SECOND);
      await scheduler.handle().idle();
      scheduler.handle().cancel("enough");
      const report = await within(running, "run()");
      assertEquals(report.stopReason, "cancelled");
      assertEquals(ran.length, 2);
      assertEquals(Number(clock.hasPendingTimer()), 0);
    });
  });

  for (const overlap of [OverlapPolicy.Forbid, OverlapPolicy.QueueOne]) {
    test(`${overlap} with a task awaiting a fake delay longer than the interval: no overlap, no hang`, async () => {
      await withTestClock(install, Date.UTC(2026, 3, 3), async (clock) => {
        const concurrency = new Concurrency();
        const job = Job.withoutDeps(
          "slow",
          Schedule.interval(SECOND),
          Task.fromAsync(() => concurrency.around(() => delay(1.5 * SECOND))),
        ).withOverlapPolicy(overlap);
        const scheduler = new Scheduler({}, new InMemoryStateStore());
        const events = recordEvents(scheduler);
        const running = scheduler.run(job);
        const handle = scheduler.handle();
        // Steps no longer than the task: under std's FakeTime a timer the
        // task arms is only reached by the next step (docs/testing.md).
        for (let step = 0; step < 10; step++) {
          await clock.tickAsync(SECOND / 2);
          await handle.idle();
        }
        handle.shutdown();
        for (let step = 0; step < 4; step++) {
          await clock.tickAsync(SECOND / 2); // the last run's own delay
        }
        const report = await within(running, "run()");
        assertEquals(concurrency.peak, 1);
        assert(concurrency.invocations >= 1);
        const overlapped = skipped(events)
          .filter((skip) => skip.reason === "overlap")
          .reduce((sum, skip) => sum + skip.count, 0);
        if (overlap === OverlapPolicy.Forbid) {
          assert(overlapped >= 1, "overlaps are reported");
        }
        assertEquals(report.stopReason, "shutdown");
      });
    });
  }

  test("runAllAsync runs a bounded job to its end", async () => {
    const start = Date.UTC(2026, 3, 3);
    await withTestClock(install, start, async (clock) => {
      const { job, ran } = recordingJob("all", Schedule.interval(SECOND));
      const running = new Scheduler({}, new InMemoryStateStore()).run(
        job.withMaxRuns(5),
      );
      await within(clock.runAllAsync(), "runAllAsync()");
      await within(running, "run()");
      assertEquals(
        ran.map((run) => run.scheduledAt),
        [1, 2, 3, 4, 5].map((n) => iso(start + n * SECOND)),
      );
    });
  });

  test("replay-all after a restart: the backlog runs one by one in one tick", async () => {
    const start = Date.UTC(2026, 3, 3);
    await withTestClock(install, start, async (clock) => {
      const store = new InMemoryStateStore();
      await store.save({
        jobId: "replay",
        triggerCount: 0,
        lastRunAt: null,
        lastSuccessAt: null,
        nextRunAt: new Date(start - 3 * SECOND),
        lastError: null,
      });
      const { job, ran } = recordingJob("replay", Schedule.interval(SECOND));
      const running = new Scheduler({}, store).run(
        job.withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(6),
      );
      await clock.tickAsync(2 * SECOND);
      await within(running, "run()");
      assertEquals(
        ran.map((run) => run.scheduledAt),
        [-3, -2, -1, 0, 1, 2].map((n) => iso(start + n * SECOND)),
      );
    });
  });

  test("sleepUntil resolves at its instant, not before, in one tick", async () => {
    const start = Date.UTC(2026, 0, 1);
    await withTestClock(install, start, async (clock) => {
      let resolved = false;
      const sleeping = sleepUntil(start + 3 * DAY).then(() => resolved = true);
      await clock.tickAsync(3 * DAY - 1);
      assertEquals(resolved, false);
      await clock.tickAsync(1);
      await within(sleeping, "sleepUntil");
    });
  });

  test("the resilient store keeps the job running through an outage", async () => {
    const start = Date.UTC(2026, 3, 3);
    await withTestClock(install, start, async (clock) => {
      let down = true;
      const primary = new InMemoryStateStore();
      const flaky: StateStore = {
        load: (id) => down ? Promise.reject(outage()) : primary.load(id),
        save: (state: JobState) =>
          down ? Promise.reject(outage()) : primary.save(state),
        delete: (id) => down ? Promise.reject(outage()) : primary.delete(id),
      };
      const store = new ResilientStateStore(flaky, { probeIntervalMs: 0 });
      const { job, ran } = recordingJob("resilient", Schedule.interval(SECOND));
      const scheduler = new Scheduler({}, store);
      const events = recordEvents(scheduler);
      const running = scheduler.run(job.withMaxRuns(4));
      await within(scheduler.handle().idle(), "idle at start");
      await clock.tickAsync(2 * SECOND);
      await within(scheduler.handle().idle(), "idle");
      down = false;
      await clock.tickAsync(2 * SECOND);
      await within(running, "run()");
      assertEquals(ran.length, 4);
      assert(events.some((event) => event.type === "store-degraded"));
      assertEquals((await primary.load("resilient"))?.triggerCount, 4);
    });
  });
}

function outage(): StoreError {
  return new StoreError("down", { operation: "save", kind: "connection" });
}
