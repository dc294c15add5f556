/**
 * A `JobGroup` keeps a sleeping job without a scheduler, an engine or a
 * timer of its own (docs/jobs.md, "How a group sleeps"): one pending timer
 * for the whole group, counted by wrapping `setTimeout` and `clearTimeout`;
 * and a sleeping job still behaves exactly as the same job started alone
 * with `schedule()` (same events, same report, same stored state).
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  JobGroup,
  type JobState,
  schedule,
  type ScheduleOptions,
  type SchedulerEvent,
  type SchedulerReport,
  type ScheduleSpec,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import {
  type Installer,
  TEST_CLOCKS,
  type TestClock,
  within,
  withTestClock,
} from "./_test_clocks.ts";
import { settle, T0 } from "./_engine_helpers.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Counts the timers armed through the global `setTimeout` (a fake one). */
function countTimers(): {
  pending: Set<unknown>;
  created: number;
  restore(): void;
} {
  const setTimer = globalThis.setTimeout;
  const clearTimer = globalThis.clearTimeout;
  const counts = { pending: new Set<unknown>(), created: 0, restore };
  globalThis.setTimeout = ((callback: () => void, delay?: number) => {
    counts.created++;
    const id = setTimer(() => {
      counts.pending.delete(id);
      callback();
    }, delay);
    counts.pending.add(id);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id: ReturnType<typeof setTimeout>) => {
    counts.pending.delete(id);
    clearTimer(id);
  }) as typeof clearTimeout;
  function restore(): void {
    globalThis.setTimeout = setTimer;
    globalThis.clearTimeout = clearTimer;
  }
  return counts;
}

Deno.test("JobGroup: 10 000 sleeping jobs keep one pending timer, and stop without any left", async () => {
  await withFakeClock(T0, async () => {
    const timers = countTimers();
    try {
      const store = new InMemoryStateStore();
      const jobs = new JobGroup({ store });
      for (let i = 0; i < 10_000; i++) {
        // Due at 03:00, about two hours after T0.
        jobs.schedule("0 3 * * *", { jobId: `job-${i}` }, () => {});
      }
      await jobs.idle();
      assert.equal(timers.pending.size, 1, "one timer for the whole group");
      assert.ok(timers.created <= 2, `${timers.created} timers created`);
      // Every job's first state is stored under its id, as a single job's.
      const state = await store.load("job-9999");
      assert.equal(state?.nextRunAt?.toISOString(), "2026-04-03T03:00:00.000Z");
      jobs.cancel();
      const reports = await jobs.done();
      assert.equal(reports.length, 10_000);
      assert.ok(reports.every((report) => report.stopReason === "cancelled"));
      assert.equal(timers.pending.size, 0, "no timer left after the stop");
    } finally {
      timers.restore();
    }
  });
});

Deno.test("JobGroup: the group's one timer wakes each sleeping job at its own instant", async () => {
  await withFakeClock(T0, async (clock) => {
    const timers = countTimers();
    try {
      const ran: string[] = [];
      const jobs = new JobGroup();
      for (const [jobId, minute] of [["b", 30], ["a", 10], ["c", 50]]) {
        jobs.schedule(`${minute} 5 * * *`, { jobId: `${jobId}` }, ({ run }) => {
          ran.push(`${jobId}@${run.scheduledAt.toISOString().slice(11, 16)}`);
        });
      }
      await jobs.idle();
      assert.equal(timers.pending.size, 1);
      await clock.tickAsync(5 * HOUR);
      await jobs.idle();
      assert.deepEqual(ran, ["a@05:10", "b@05:30", "c@05:50"]);
      // Having run, each sleeps on the group's clock again until tomorrow.
      assert.equal(timers.pending.size, 1, "back to one timer after the runs");
      await clock.tickAsync(DAY);
      await jobs.idle();
      assert.equal(ran.length, 6);
      assert.equal(timers.pending.size, 1);
      jobs.cancel();
      const reports = await settle(clock, jobs.done());
      assert.deepEqual(
        reports.map((report) => report.history.map((run) => run.status)),
        [
          ["success", "success"],
          ["success", "success"],
          ["success", "success"],
        ],
      );
      assert.equal(timers.pending.size, 0);
    } finally {
      timers.restore();
    }
  });
});

interface Outcome {
  events: string[];
  report: SchedulerReport;
  stored: JobState | undefined;
  extra: unknown;
}

/**
 * Runs one job alone (`schedule()`) or in a group of two (with a
 * bystander), under the same fake clock from T0 and from the same stored
 * state, and returns what can be seen of it.
 */
async function outcome(
  how: "alone" | "group",
  install: Installer,
  scenario: {
    when: ScheduleSpec;
    options?: Omit<ScheduleOptions, "store" | "observer" | "jobId">;
    stored?: JobState;
    /** What happens once the job is started; returns anything to compare. */
    act(
      job: ReturnType<typeof schedule>,
      clock: TestClock,
    ): Promise<unknown>;
  },
): Promise<Outcome> {
  return await withTestClock(install, T0, async (clock) => {
    const store = new InMemoryStateStore();
    if (scenario.stored !== undefined) await store.save(scenario.stored);
    const events: string[] = [];
    const observer = {
      onEvent: (event: SchedulerEvent) => {
        if (event.jobId === "job") {
          events.push(`${new Date().toISOString()} ${JSON.stringify(event)}`);
        }
      },
    };
    const options = { ...scenario.options, jobId: "job" };
    const task = () => {};
    let job: ReturnType<typeof schedule>;
    let group: JobGroup | undefined;
    if (how === "alone") {
      job = schedule(scenario.when, { ...options, store, observer }, task);
    } else {
      group = new JobGroup({ store, observer });
      group.schedule({ everyMs: DAY }, { jobId: "bystander" }, task);
      job = group.schedule(scenario.when, options, task);
    }
    const extra = await scenario.act(job, clock);
    job.cancel();
    await clock.tickAsync(0);
    const report = await within(job.done, "done");
    group?.cancel();
    if (group !== undefined) await within(group.done(), "group done()");
    return { events, report, stored: await store.load("job"), extra };
  });
}

async function assertSameAsAlone(
  name: string,
  scenario: Parameters<typeof outcome>[2],
): Promise<void> {
  for (const { name: clockName, install } of TEST_CLOCKS) {
    if (install === undefined) continue; // not served here (a warning says so)
    const alone = await outcome("alone", install, scenario);
    const grouped = await outcome("group", install, scenario);
    assert.deepEqual(grouped, alone, `${name} (${clockName})`);
    assert.ok(alone.events.length > 0, name);
  }
}

Deno.test("JobGroup: a sleeping job behaves as the same job started alone", async () => {
  const stored = (nextRunAt: number, triggerCount = 3): JobState => ({
    jobId: "job",
    triggerCount,
    lastRunAt: new Date(nextRunAt - DAY),
    lastSuccessAt: new Date(nextRunAt - DAY),
    nextRunAt: new Date(nextRunAt),
    lastError: null,
  });
  const nightly = Date.UTC(2026, 3, 3, 3, 0, 0);
  await assertSameAsAlone("new state, two days of a nightly job", {
    when: "0 3 * * *",
    act: (_, clock) => clock.tickAsync(2 * DAY),
  });
  await assertSameAsAlone("an interval job napping between its runs", {
    when: { everyMs: 10 * 60_000 },
    options: { historyLimit: 4 },
    act: (_, clock) => clock.tickAsync(HOUR + 60_000),
  });
  await assertSameAsAlone("stopped while asleep", {
    when: "0 3 * * *",
    act: (_, clock) => clock.tickAsync(HOUR),
  });
  await assertSameAsAlone("resumed from a stored state, asleep until due", {
    when: "0 3 * * *",
    stored: stored(nightly),
    act: (_, clock) => clock.tickAsync(DAY),
  });
  await assertSameAsAlone("missed runs at start (catch-up-once)", {
    when: "0 3 * * *",
    stored: stored(nightly - 3 * DAY),
    act: (_, clock) => clock.tickAsync(HOUR),
  });
  await assertSameAsAlone("missed runs at start (skip)", {
    when: "0 3 * * *",
    options: { missedRunPolicy: "skip" },
    stored: stored(nightly - 3 * DAY),
    act: (_, clock) => clock.tickAsync(DAY),
  });
  await assertSameAsAlone("maxRuns reached while asleep: terminal", {
    when: "0 3 * * *",
    options: { maxRuns: 4, terminalStatePolicy: "delete" },
    stored: stored(nightly),
    act: async (job, clock) => {
      await clock.tickAsync(DAY);
      return (await job.done).stopReason;
    },
  });
  await assertSameAsAlone("nextRun and nextRuns of a sleeping job", {
    when: "0 3 * * *",
    act: async (job) => [
      (await job.nextRun())?.toISOString(),
      (await job.nextRuns(3)).map((date) => date.toISOString()),
    ],
  });
  await assertSameAsAlone("paused while asleep, resumed after its instant", {
    when: "0 3 * * *",
    act: async (job, clock) => {
      await clock.tickAsync(HOUR);
      job.pause();
      await clock.tickAsync(3 * HOUR);
      const paused = job.paused;
      job.resume();
      await clock.tickAsync(HOUR);
      return paused;
    },
  });
  await assertSameAsAlone("triggerNow on a sleeping job", {
    when: "0 3 * * *",
    act: async (job, clock) => {
      await clock.tickAsync(HOUR);
      const record = await job.triggerNow();
      return [record.manual, record.status];
    },
  });
  await assertSameAsAlone("shutdown while asleep", {
    when: "0 3 * * *",
    act: async (job, clock) => {
      await clock.tickAsync(HOUR);
      job.shutdown();
      return (await job.done).stopReason;
    },
  });
  await assertSameAsAlone("listeners added through the handle's scheduler", {
    when: "0 3 * * *",
    act: async (job, clock) => {
      const heard: string[] = [];
      for (const type of ["run-started", "run-completed"] as const) {
        job.scheduler.addEventListener(type, (event) => {
          heard.push(`${event.detail.type} ${new Date().toISOString()}`);
        });
      }
      await clock.tickAsync(DAY);
      return heard;
    },
  });
});
