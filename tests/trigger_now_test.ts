/**
 * `triggerNow()` (in memory, fake time): manual runs outside the
 * schedule under the overlap policy and the guard, with timeouts and retries.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  Job,
  OverlapPolicy,
  type RunContext,
  type RunRecord,
  Schedule,
  Scheduler,
  Task,
  TriggerNowError,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import {
  delay,
  recordEvents,
  settle,
  stateLoaded,
  T0,
} from "./_engine_helpers.ts";
import { SlotGuard } from "./_slot_guard.ts";
import { manualSlotInstant } from "../src/scheduler/run/manual.ts";

const HOUR = 3_600_000;

function isTriggerNowError(kind: string) {
  return (error: unknown) =>
    error instanceof TriggerNowError && error.kind === kind;
}

Deno.test("triggerNow runs the job once outside the schedule: manual, not counted, state advanced only by the run", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    const events = recordEvents(scheduler);
    const contexts: RunContext[] = [];
    const job = Job.withoutDeps(
      "hourly",
      Schedule.cron("0 * * * *"),
      Task.fromAsync(async ({ run }) => {
        contexts.push(run);
        await delay(40);
      }),
    );
    const ready = stateLoaded(scheduler);
    const running = scheduler.run(job);
    await ready;
    await clock.tickAsync(500);
    const record = await settle(clock, handle.triggerNow());
    const requested = Math.floor((T0 + 500) / 1000) * 1000;
    assert.equal(record.manual, true);
    assert.equal(record.status, "success");
    assert.equal(record.triggerCount, 0);
    assert.equal(record.scheduledAt.getTime(), requested);
    assert.equal(record.startedAt.getTime(), T0 + 500);
    assert.equal(record.finishedAt.getTime(), T0 + 540);
    assert.equal(contexts.length, 1);
    assert.equal(contexts[0].manual, true);
    assert.equal(contexts[0].attempt, 1);
    assert.equal(contexts[0].jitterMs, 0);
    handle.shutdown();
    const report = await settle(clock, running);
    assert.equal(report.state.triggerCount, 0);
    assert.equal(
      report.state.nextRunAt?.toISOString(),
      "2026-04-03T02:00:00.000Z",
    );
    assert.equal(report.state.lastRunAt?.getTime(), T0 + 500);
    assert.deepEqual(report.history, [record]);
    const started = events.find((e) => e.type === "run-started");
    assert.deepEqual(started, {
      type: "run-started",
      jobId: "hourly",
      scheduledAt: new Date(requested),
      catchUp: false,
      triggerCount: 0,
      manual: true,
    });
    assert.equal(
      events.filter((e) => e.type === "trigger-emitted").length,
      0,
    );
  });
});

Deno.test("triggerNow rejects without a run(), while paused and while stopping", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    await assert.rejects(
      handle.triggerNow(),
      isTriggerNowError("not-running"),
    );
    const job = Job.withoutDeps(
      "idle",
      Schedule.interval(HOUR),
      Task.fromSync(() => {}),
    );
    const ready = stateLoaded(scheduler);
    const running = scheduler.run(job);
    await ready;
    handle.pause();
    await assert.rejects(handle.triggerNow(), isTriggerNowError("paused"));
    handle.resume();
    await assert.rejects(
      handle.triggerNow({ requestedAt: Number.NaN }),
      (error: unknown) => error instanceof Error && /NaN/.test(error.message),
    );
    handle.shutdown();
    await assert.rejects(handle.triggerNow(), isTriggerNowError("stopping"));
    await settle(clock, running);
  });
});

Deno.test("triggerNow during a scheduled run obeys the overlap policy", async () => {
  for (
    const [policy, expected] of [
      [OverlapPolicy.Forbid, "overlap"],
      [OverlapPolicy.QueueOne, "after"],
      [OverlapPolicy.AllowParallel, "beside"],
    ] as const
  ) {
    await withFakeClock(T0, async (clock) => {
      const scheduler = new Scheduler({}, new InMemoryStateStore());
      const handle = scheduler.handle();
      let manual: Promise<RunRecord> | undefined;
      const job = Job.withoutDeps(
        `overlap-${policy}`,
        Schedule.atTimes([T0 + 100]),
        Task.fromAsync(async ({ run }) => {
          if (!run.manual) {
            manual = handle.triggerNow();
            manual.catch(() => {}); // awaited below
          }
          await delay(1_000);
        }),
      ).withOverlapPolicy(policy);
      const report = await settle(clock, scheduler.run(job));
      assert.ok(manual !== undefined);
      if (expected === "overlap") {
        await assert.rejects(manual, isTriggerNowError("overlap"));
        assert.equal(report.history.length, 1);
        return;
      }
      const record = await manual;
      assert.equal(record.manual, true);
      assert.equal(
        record.startedAt.getTime(),
        expected === "after" ? T0 + 1_100 : T0 + 100,
      );
      assert.equal(report.history.length, 2);
      assert.equal(report.state.triggerCount, 1);
    });
  }
});

Deno.test("triggerNow on two instances sharing a guard runs the job once; the other is contended", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new SlotGuard();
    const runs: string[] = [];
    const job = (name: string) =>
      Job.withoutDeps(
        "shared",
        Schedule.cron("0 0 1 1 *"),
        Task.fromSync(() => void runs.push(name)),
      );
    const a = Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard);
    const b = Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard);
    const ready = Promise.all([stateLoaded(a), stateLoaded(b)]);
    const running = [a.run(job("a")), b.run(job("b"))];
    await ready;
    const results = await Promise.allSettled([
      a.handle().triggerNow(),
      b.handle().triggerNow(),
    ]);
    assert.deepEqual(runs, ["a"]);
    assert.equal(results[0].status, "fulfilled");
    assert.equal(results[1].status, "rejected");
    assert.ok(
      isTriggerNowError("contended")(
        (results[1] as PromiseRejectedResult).reason,
      ),
    );
    // A new request (another second, or an explicit requestedAt) runs again.
    await clock.tickAsync(1_000);
    const again = await b.handle().triggerNow({ requestedAt: T0 + 7 });
    assert.equal(again.scheduledAt.getTime(), T0 + 7);
    assert.deepEqual(runs, ["a", "b"]);
    a.handle().shutdown();
    b.handle().shutdown();
    await settle(clock, Promise.all(running));
  });
});

Deno.test("a manual slot never coincides with a scheduled occurrence", () => {
  const minute = Date.UTC(2026, 3, 3, 1, 2, 0);
  const zone = { timezone: "UTC", nextRunAt: minute };
  assert.equal(
    manualSlotInstant(minute, Schedule.cron("* * * * *"), zone),
    minute + 1,
  );
  assert.equal(
    manualSlotInstant(minute + 500, Schedule.cron("* * * * *"), zone),
    minute + 500,
  );
  assert.equal(
    manualSlotInstant(minute + 2_000, Schedule.interval(1_000), zone),
    minute + 2_001,
  );
  assert.equal(
    manualSlotInstant(
      minute,
      Schedule.atTimes([minute, minute + 1]),
      { timezone: "UTC", nextRunAt: null },
    ),
    minute + 2,
  );
});

Deno.test("triggerNow with retries and a timeout resolves with the last attempt's record", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps(
      "manual-retry",
      Schedule.cron("0 0 1 1 *"),
      Task.fromAsync(async ({ run }) => {
        if (run.attempt === 1) await delay(1_000); // times out
        else if (run.attempt === 2) throw new Error("second fails");
      }),
    ).withRunTimeout(300).withRetry({ attempts: 3, backoffMs: [100] });
    const ready = stateLoaded(scheduler);
    const running = scheduler.run(job);
    await ready;
    const record = await settle(clock, handle.triggerNow());
    assert.equal(record.manual, true);
    assert.equal(record.attempt, 3);
    assert.equal(record.status, "success");
    handle.shutdown();
    const report = await settle(clock, running);
    assert.deepEqual(report.history.map((r) => [r.status, r.manual]), [
      ["timed-out", true],
      ["failed", true],
      ["success", true],
    ]);
    const retrying = events.filter((e) => e.type === "run-retrying");
    assert.deepEqual(retrying.map((e) => e.manual), [true, true]);
    assert.equal(report.state.triggerCount, 0);
  });
});

/** An in-memory store whose saves take `saveMs` of (fake) time. */
class SlowStore extends InMemoryStateStore {
  constructor(readonly saveMs: number) {
    super();
  }
  override async save(state: Parameters<InMemoryStateStore["save"]>[0]) {
    await delay(this.saveMs);
    return super.save(state);
  }
}

Deno.test("a manual run that starts while a decision is being saved makes the overlap policy apply to that decision", async () => {
  for (const policy of [OverlapPolicy.Forbid, OverlapPolicy.QueueOne]) {
    await withFakeClock(T0, async (clock) => {
      const scheduler = new Scheduler({}, new SlowStore(100));
      const handle = scheduler.handle();
      const events = recordEvents(scheduler);
      const running: string[] = [];
      let peak = 0;
      const job = Job.withoutDeps(
        `race-${policy}`,
        Schedule.atTimes([T0 + 1_000]),
        Task.fromAsync(async ({ run }) => {
          running.push(run.manual ? "manual" : "scheduled");
          peak = Math.max(peak, running.length);
          await delay(500);
          running.pop();
        }),
      ).withOverlapPolicy(policy);
      const done = scheduler.run(job);
      await clock.tickAsync(1_050); // the decision at +1000 is being saved
      const record = await settle(clock, handle.triggerNow());
      assert.equal(record.startedAt.getTime(), T0 + 1_050);
      const report = await settle(clock, done);
      assert.equal(peak, 1, "never two runs at once");
      const skipped = events.filter((e) => e.type === "run-skipped");
      if (policy === OverlapPolicy.Forbid) {
        assert.equal(report.history.length, 1);
        assert.deepEqual(skipped.map((e) => e.reason), ["overlap"]);
      } else {
        assert.deepEqual(report.history.map((r) => r.manual ?? false), [
          true,
          false,
        ]);
        assert.equal(skipped.length, 0);
      }
    });
  }
});
