/**
 * A retry waits out a pause: an attempt whose backoff ends while the
 * scheduler is paused starts at `resume()`, not before, and a stop while it
 * waits ends the run as a stop during the backoff does (docs/run_controls.md,
 * "Retries"). On sinon, std's FakeTime and std's next FakeTime.
 */
import { assertEquals } from "@std/assert";
import {
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  type SchedulerReport,
  Task,
} from "../mod.ts";
import { ofType, recordEvents } from "./_engine_helpers.ts";
import { SlotGuard } from "./_slot_guard.ts";
import {
  TEST_CLOCKS,
  type TestClock,
  within,
  withTestClock,
} from "./_test_clocks.ts";

const START = Date.UTC(2026, 3, 3); // 2026-04-03T00:00:00Z
const DAY = 86_400_000;

/** Advances `ms` in steps shorter than the backoff, idle after each. */
async function drive(clock: TestClock, scheduler: Scheduler, ms: number) {
  for (let passed = 0; passed < ms; passed += 250) {
    await clock.tickAsync(250);
    await within(scheduler.handle().idle(), "idle()");
  }
}

/** A job due at +1 s whose attempts fail before `succeedsAt`. */
function flakyJob(
  backoffMs: number,
  succeedsAt = Infinity,
  tokens: (bigint | undefined)[] = [],
) {
  return Job.withoutDeps(
    "flaky",
    Schedule.atTimes([START + 1000, START + 10 * DAY]),
    Task.fromSync(({ run }) => {
      tokens.push(run.fencingToken);
      if (run.attempt < succeedsAt) throw new Error(`down ${run.attempt}`);
    }),
  ).withRetry({ attempts: 3, backoffMs: [backoffMs] });
}

/** Each `run-started` as `attempt@ms after START`, when it is dispatched. */
function recordStarts(scheduler: Scheduler): string[] {
  const starts: string[] = [];
  scheduler.addEventListener("run-started", (event) => {
    starts.push(`${event.detail.attempt ?? 1}@${Date.now() - START}`);
  });
  return starts;
}

for (const { name: clockName, install, reason } of TEST_CLOCKS) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `${clockName}: ${name}${reason ? ` (skipped: ${reason})` : ""}`,
      ignore: install === undefined,
      fn,
    });

  test("a retry whose backoff ends while paused starts at resume(), not before; idle() does not wait for it", async () => {
    await withTestClock(install!, START, async (clock) => {
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const handle = scheduler.handle();
      const events = recordEvents(scheduler);
      const started = recordStarts(scheduler);
      scheduler.addEventListener("run-retrying", () => handle.pause());
      const running = scheduler.run(flakyJob(1000, 2));
      // The backoff ends at +2 s; paused until +5 s.
      await drive(clock, scheduler, 5000);
      assertEquals(started, ["1@1000"]);
      assertEquals(ofType(events, "run-completed").length, 1);
      handle.resume();
      await within(handle.idle(), "idle() after resume()");
      assertEquals(started, ["1@1000", "2@5000"]);
      handle.shutdown();
      const report = await within(running, "run()");
      assertEquals(
        report.history.map((run) => `${run.attempt ?? 1}:${run.status}`),
        ["1:failed", "2:success"],
      );
      assertEquals(report.history[1].startedAt.getTime(), START + 5000);
    });
  });

  test("the lease is renewed while a retry waits for resume(), and the resumed attempt keeps it", async () => {
    await withTestClock(install!, START, async (clock) => {
      const guard = new SlotGuard({ renewIntervalMs: 500 });
      const scheduler = new Scheduler({}, new InMemoryStateStore(), { guard });
      const handle = scheduler.handle();
      const started = recordStarts(scheduler);
      const tokens: (bigint | undefined)[] = [];
      scheduler.addEventListener("run-retrying", () => handle.pause());
      const running = scheduler.run(flakyJob(1000, 2, tokens));
      await drive(clock, scheduler, 5000);
      assertEquals(started, ["1@1000"]);
      // Renewed every 500 ms from +1 s, through the backoff and the pause.
      const renewals = guard.ofOp("renew").map((call) => call.at - START);
      assertEquals(renewals.filter((at) => at > 2000).length >= 5, true);
      assertEquals(guard.ofOp("release").length, 0);
      handle.resume();
      await within(handle.idle(), "idle() after resume()");
      assertEquals(started, ["1@1000", "2@5000"]);
      assertEquals(guard.ofOp("acquire").length, 1);
      assertEquals(tokens.length, 2);
      assertEquals(tokens[1], tokens[0]);
      handle.shutdown();
      await within(running, "run()");
    });
  });

  test("a pause that ends before the backoff does changes nothing: the attempt starts when the backoff ends", async () => {
    await withTestClock(install!, START, async (clock) => {
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const handle = scheduler.handle();
      const started = recordStarts(scheduler);
      scheduler.addEventListener("run-retrying", () => handle.pause());
      const running = scheduler.run(flakyJob(2000, 2));
      await drive(clock, scheduler, 2000); // +2 s: paused, backoff to +3 s
      handle.resume();
      await within(handle.idle(), "idle() after resume()");
      assertEquals(started, ["1@1000"]);
      await drive(clock, scheduler, 2000);
      assertEquals(started, ["1@1000", "2@3000"]);
      handle.shutdown();
      await within(running, "run()");
    });
  });

  for (const stop of ["cancel", "shutdown"] as const) {
    test(`${stop} while a retry waits for resume() ends the run as a ${stop} during the backoff does`, async () => {
      const stopAtFive = async (pause: boolean, backoffMs: number) =>
        await withTestClock(install!, START, async (clock) => {
          const scheduler = new Scheduler({}, new InMemoryStateStore());
          const handle = scheduler.handle();
          const started = recordStarts(scheduler);
          if (pause) {
            scheduler.addEventListener("run-retrying", () => handle.pause());
          }
          const running = scheduler.run(flakyJob(backoffMs));
          await drive(clock, scheduler, 5000);
          handle[stop]();
          const report: SchedulerReport = await within(running, "run()");
          assertEquals(Date.now(), START + 5000, "ended at once");
          return { report, starts: started };
        });
      // Today's behaviour: the same stop during a backoff still running.
      const during = await stopAtFive(false, 60_000);
      const paused = await stopAtFive(true, 1000);
      assertEquals(paused.starts, ["1@1000"]);
      assertEquals(during.starts, ["1@1000"]);
      assertEquals(paused.report, during.report);
      assertEquals(
        paused.report.stopReason,
        stop === "cancel" ? "cancelled" : "shutdown",
      );
      assertEquals(paused.report.history.map((run) => run.status), ["failed"]);
    });
  }
}
