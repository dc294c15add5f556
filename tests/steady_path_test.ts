/**
 * What the steady path costs, counted under sinon's fake timers (counts are
 * deterministic; times are in bench/engine_figures.ts): an interval job on
 * the in-memory store arms one timer per firing and clears none, and a run
 * allocates two `Date` objects (the aim is at most three), on time and in a
 * replay. The
 * counters wrap the globals the library reads at call time (`setTimeout`,
 * `clearTimeout`, `Date`) on top of the fake clock; docs/testing.md says
 * why the steady path needs no more.
 */
import { assert, assertEquals } from "@std/assert";
import {
  InMemoryStateStore,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { T0 } from "./_engine_helpers.ts";

interface Counts {
  armed: number;
  cleared: number;
  dates: number;
}

/**
 * Counts the timers armed and cleared and the `Date` objects constructed
 * while `body` runs (`Date.now()` is inherited and allocates nothing).
 */
async function counted(body: () => Promise<void>): Promise<Counts> {
  const counts: Counts = { armed: 0, cleared: 0, dates: 0 };
  const { setTimeout: arm, clearTimeout: clear, Date: DateClass } = globalThis;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    counts.armed++;
    return arm(...args);
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id?: number) => {
    counts.cleared++;
    clear(id);
  }) as typeof clearTimeout;
  globalThis.Date = class extends DateClass {
    constructor(...args: ConstructorParameters<DateConstructor>) {
      super(...args);
      counts.dates++;
    }
  } as DateConstructor;
  try {
    await body();
  } finally {
    globalThis.setTimeout = arm;
    globalThis.clearTimeout = clear;
    globalThis.Date = DateClass;
  }
  return counts;
}

Deno.test("steady firing under sinon: one timer armed and none cleared per firing, at most three Dates per run", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const ran: number[] = [];
    const job = Job.withoutDeps(
      "steady",
      Schedule.interval(1_000),
      Task.fromSync(({ run }) => void ran.push(run.scheduledAt.getTime())),
    ).withMaxRuns(40);
    const done = scheduler.run(job);
    // Past the start-up (the first state, its first wake-up) and two firings.
    await clock.tickAsync(2_000);
    assertEquals(ran.length, 2);
    const firings = 30;
    const counts = await counted(async () => {
      for (let i = 0; i < firings; i++) await clock.tickAsync(1_000);
    });
    assertEquals(ran.length, 2 + firings, "one run per firing");
    assertEquals(
      ran.slice(2),
      Array.from({ length: firings }, (_, i) => T0 + (i + 3) * 1_000),
      "each run at its own instant",
    );
    assertEquals(counts.armed, firings, "one timer armed per firing");
    assertEquals(counts.cleared, 0, "no timer cleared on the steady path");
    // Two under a clock that does not move during a run (docs/testing.md,
    // "What a firing costs"); the aim is at most three.
    assert(
      counts.dates <= 2 * firings,
      `${counts.dates} Date objects over ${firings} runs (expected ≤ 2 per run)`,
    );
    await clock.tickAsync(10_000);
    const report = await done;
    assertEquals(report.state.triggerCount, 40);
    assertEquals(clock.countTimers(), 0, "no timer left after run()");
  });
});

/** Replays a backlog of `runs` due occurrences with a no-op task. */
async function replay(runs: number): Promise<void> {
  const store = new InMemoryStateStore();
  await store.save({
    jobId: "backlog",
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(Date.now() - runs),
    lastError: null,
  });
  const job = Job.withoutDeps(
    "backlog",
    Schedule.interval(1),
    Task.fromAsync(async () => {}),
  ).withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(runs);
  const report = await new Scheduler({ historyLimit: 8 }, store).run(job);
  assertEquals(report.state.triggerCount, runs);
  assertEquals(report.history.length, 8);
}

Deno.test("replay under sinon: at most three Dates per run, no timer per run", async () => {
  await withFakeClock(T0, async () => {
    await replay(50); // the first use of each path
    // The difference between two backlogs is what a run adds; the state
    // loaded and the report built once per run() are the same in both.
    const short = await counted(() => replay(100));
    const long = await counted(() => replay(300));
    const perRun = (long.dates - short.dates) / 200;
    assert(perRun <= 2, `${perRun} Date objects per run (expected ≤ 2)`);
    assertEquals(long.armed - short.armed, 0, "no timer armed per run");
    assertEquals(long.cleared - short.cleared, 0, "no timer cleared per run");
  });
});

Deno.test("a task that changes its scheduledAt changes nothing the scheduler keeps (the Date it gets is its own)", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const seen: number[] = [];
    const job = Job.withoutDeps(
      "mutating",
      Schedule.interval(1_000),
      Task.fromSync(({ run }) => {
        seen.push(run.scheduledAt.getTime());
        run.scheduledAt.setTime(0);
      }),
    ).withMaxRuns(5);
    const done = new Scheduler({}, store).run(job);
    await clock.tickAsync(5_000);
    const report = await done;
    const expected = [1, 2, 3, 4, 5].map((k) => T0 + k * 1_000);
    assertEquals(seen, expected);
    assertEquals(
      report.history.map((run) => run.scheduledAt.getTime()),
      expected,
    );
    assertEquals(report.state.lastRunAt?.getTime(), T0 + 5_000);
    assertEquals(report.state.lastSuccessAt?.getTime(), T0 + 5_000);
    assertEquals(report.state.triggerCount, 5);
  });
});
