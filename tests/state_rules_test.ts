/** Pure state rules: where a run starts from, and what a completion changes. */
import assert from "node:assert/strict";
import {
  InvalidJobError,
  Job,
  type JobState,
  Schedule,
  StoreError,
  Task,
} from "../mod.ts";
import {
  checkStoredState,
  initialState,
} from "../src/scheduler/rules/_initial_state.ts";
import { recordCompletion } from "../src/scheduler/rules/_completion.ts";
import { resolveConfig } from "../src/scheduler/job/config.ts";
import type { CompletedRun } from "../src/scheduler/events/report.ts";

const NOW = Date.UTC(2026, 3, 3, 12);
const config = resolveConfig({});
const task = Task.fromSync(() => {});

function stored(overrides: Partial<JobState>): JobState {
  return {
    jobId: "job",
    triggerCount: 3,
    lastRunAt: new Date(NOW - 5000),
    lastSuccessAt: new Date(NOW - 4000),
    nextRunAt: null,
    lastError: "previous failure",
    ...overrides,
  };
}

Deno.test("initialState: nothing stored → a new state with the first occurrence, to be saved", () => {
  const job = Job.withoutDeps("job", Schedule.interval(1000), task);
  assert.deepEqual(initialState(undefined, { job, config, now: NOW }), {
    source: "new",
    save: true,
    state: {
      jobId: "job",
      triggerCount: 0,
      lastRunAt: null,
      lastSuccessAt: null,
      nextRunAt: new Date(NOW + 1000),
      lastError: null,
    },
  });
  const none = initialState(undefined, {
    job: job.withMaxRuns(0),
    config,
    now: NOW,
  });
  assert.equal(none.state.nextRunAt, null);
});

Deno.test("initialState: a stored interval state without a next run is repaired, fields kept", () => {
  const job = Job.withoutDeps("job", Schedule.interval(80), task).withMaxRuns(
    10,
  );
  const result = initialState(stored({}), { job, config, now: NOW });
  assert.deepEqual(result, {
    source: "repaired",
    save: true,
    state: { ...stored({}), nextRunAt: new Date(NOW + 80) },
  });
});

Deno.test("initialState: exhausted, at-times and cron states without a next run stay terminal", () => {
  for (
    const job of [
      Job.withoutDeps("job", Schedule.interval(80), task).withMaxRuns(3),
      Job.withoutDeps("job", Schedule.atTimes([NOW + 10]), task),
      Job.withoutDeps("job", Schedule.cron("* * * * *"), task),
    ]
  ) {
    const result = initialState(stored({}), { job, config, now: NOW });
    assert.equal(result.source, "restored");
    assert.equal(result.save, false);
    assert.deepEqual(result.state, stored({}));
  }
});

Deno.test("initialState: a restored state is a copy and wins over the job", () => {
  const job = Job.withoutDeps("job", Schedule.interval(80), task);
  const original = stored({ nextRunAt: new Date(NOW - 1) });
  const result = initialState(original, { job, config, now: NOW });
  assert.equal(result.source, "restored");
  assert.notEqual(result.state.nextRunAt, original.nextRunAt, "a copy");
  assert.deepEqual(result.state, original);
});

Deno.test("initialState: a repair beyond the Date range is an interval-out-of-range error", () => {
  const job = Job.withoutDeps("job", Schedule.interval(8.64e15), task);
  assert.throws(
    () => initialState(stored({}), { job, config, now: NOW }),
    (error: unknown) =>
      error instanceof InvalidJobError &&
      error.kind === "interval-out-of-range",
  );
});

Deno.test("checkStoredState: malformed or foreign states are data errors", () => {
  checkStoredState(undefined, "job");
  checkStoredState(stored({}), "job");
  assert.throws(
    () => checkStoredState(stored({ jobId: "other" }), "job"),
    (error: unknown) =>
      error instanceof StoreError && error.kind === "data" &&
      error.message.includes('"other"'),
  );
  assert.throws(
    () => checkStoredState({ ...stored({}), triggerCount: -1 }, "job"),
    (error: unknown) => error instanceof StoreError && error.kind === "data",
  );
});

function completed(overrides: Partial<CompletedRun>): CompletedRun {
  return {
    scheduledAt: NOW,
    startedAt: NOW + 10,
    finishedAt: NOW + 50,
    catchUp: false,
    triggerCount: 4,
    status: "success",
    error: null,
    attempt: 1,
    manual: false,
    replayed: false,
    ...overrides,
  };
}

Deno.test("recordCompletion: success sets lastRunAt and lastSuccessAt and clears lastError", () => {
  const { state, newestStart } = recordCompletion(
    stored({}),
    completed({}),
    -Infinity,
  );
  assert.equal(newestStart, NOW + 10);
  assert.deepEqual(state, {
    ...stored({}),
    lastRunAt: new Date(NOW + 10),
    lastSuccessAt: new Date(NOW + 50),
    lastError: null,
  });
});

Deno.test("recordCompletion: failure keeps lastSuccessAt and sets lastError; cancel leaves both", () => {
  const failed = recordCompletion(
    stored({}),
    completed({ status: "failed", error: "boom" }),
    -Infinity,
  ).state;
  assert.equal(failed.lastError, "boom");
  assert.deepEqual(failed.lastSuccessAt, stored({}).lastSuccessAt);
  const cancelled = recordCompletion(
    stored({}),
    completed({ status: "cancelled", error: "stop" }),
    -Infinity,
  ).state;
  assert.equal(cancelled.lastError, "previous failure");
  assert.deepEqual(cancelled.lastRunAt, new Date(NOW + 10));
});

Deno.test("recordCompletion: an older parallel run finishing later changes nothing", () => {
  const newer = recordCompletion(
    stored({}),
    completed({ startedAt: NOW + 20 }),
    -Infinity,
  );
  const older = recordCompletion(
    newer.state,
    completed({ startedAt: NOW + 10, status: "failed", error: "late" }),
    newer.newestStart,
  );
  assert.equal(older.state, newer.state, "the same object: nothing changed");
  assert.equal(older.newestStart, NOW + 20);
});

Deno.test("initialState: a stored state that already reached maxRuns is ended, not run once more", () => {
  const job = Job.withoutDeps("job", Schedule.interval(80), task).withMaxRuns(
    3,
  );
  const result = initialState(stored({ nextRunAt: new Date(NOW - 10) }), {
    job,
    config,
    now: NOW,
  });
  assert.equal(result.source, "restored");
  assert.equal(result.save, true);
  assert.deepEqual(result.state, stored({ nextRunAt: null }));
  const zero = initialState(
    stored({ triggerCount: 0, nextRunAt: new Date(NOW) }),
    {
      job: job.withMaxRuns(0),
      config,
      now: NOW,
    },
  );
  assert.equal(zero.state.nextRunAt, null);
});
