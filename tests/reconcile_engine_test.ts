/**
 * Reconciliation through `run()` on a fake clock: a state from another
 * definition is recomputed and announced, a state without a fingerprint is
 * adopted and stamped on its next save, and the fingerprint round-trips
 * through the Rust-compatible JSON.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  InMemoryStateStore,
  Job,
  type JobState,
  Schedule,
  Scheduler,
  type StateStore,
  StoreError,
  Task,
} from "../mod.ts";
import { definitionFingerprint } from "../src/scheduler/job/_fingerprint.ts";
import { withDefinition } from "../src/store/job_state.ts";
import { decodeJobState, encodeJobState } from "../src/store/_json_codec.ts";
import { withFakeClock } from "./_fake_time.ts";
import { recordEvents, settle, T0 } from "./_engine_helpers.ts";

const task = Task.fromSync(() => {});

function state(overrides: Partial<JobState> = {}): JobState {
  return {
    jobId: "job",
    triggerCount: 3,
    lastRunAt: new Date(T0 - 60_000),
    lastSuccessAt: new Date(T0 - 59_000),
    nextRunAt: new Date(T0 + 3_600_000),
    lastError: null,
    ...overrides,
  };
}

Deno.test("run(): a state from another interval is recomputed at now, announced, and saved with the new fingerprint", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const before = definitionFingerprint({
      schedule: Schedule.interval(3_600_000),
      maxRuns: 4,
      timezone: "UTC",
    });
    await store.save(withDefinition(state(), before));
    const job = Job.withoutDeps("job", Schedule.interval(1_000), task)
      .withMaxRuns(4);
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    const report = await settle(clock, scheduler.run(job));
    const after = "v1 interval 1000 max=4";
    assert.deepEqual(events.slice(0, 2), [
      {
        type: "state-reconciled",
        jobId: "job",
        triggerCount: 3,
        previous: { fingerprint: before, nextRunAt: new Date(T0 + 3_600_000) },
        next: { fingerprint: after, nextRunAt: new Date(T0 + 1_000) },
      },
      {
        type: "state-loaded",
        jobId: "job",
        triggerCount: 3,
        nextRunAt: new Date(T0 + 1_000),
        source: "restored",
      },
    ]);
    assert.deepEqual(
      report.history.map((run) => run.scheduledAt.getTime()),
      [T0 + 1_000],
      "one run left under maxRuns 4, at the new interval",
    );
    assert.equal((await store.load("job"))?.definition, after);
  });
});

Deno.test("run(): maxRuns lowered below triggerCount ends the job at once, without a run", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const schedule = Schedule.cron("*/5 * * * *");
    await store.save(withDefinition(
      state(),
      definitionFingerprint({ schedule, maxRuns: 10, timezone: "UTC" }),
    ));
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    const report = await settle(
      clock,
      scheduler.run(Job.withoutDeps("job", schedule, task).withMaxRuns(2)),
    );
    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(report.history, []);
    assert.equal(report.state.nextRunAt, null);
    const reconciled = events.find((e) => e.type === "state-reconciled");
    assert.ok(reconciled?.type === "state-reconciled");
    assert.equal(reconciled.next.nextRunAt, null);
    assert.equal((await store.load("job"))?.nextRunAt, null);
  });
});

Deno.test("run(): a state without a fingerprint is adopted as before (its next run wins) and stamped on its next save", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    await store.save(state({ nextRunAt: new Date(T0 + 500) }));
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps("job", Schedule.interval(60_000), task)
      .withMaxRuns(4);
    const report = await settle(clock, scheduler.run(job));
    assert.ok(!events.some((event) => event.type === "state-reconciled"));
    assert.equal(report.history[0].scheduledAt.getTime(), T0 + 500);
    assert.equal(
      (await store.load("job"))?.definition,
      "v1 interval 60000 max=4",
    );
  });
});

Deno.test("JSON: definition_fingerprint round-trips; a Rust state without it decodes as before; a non-string is a data error", () => {
  const stamped = withDefinition(state(), "v1 interval 1000 max=-");
  const text = encodeJobState(stamped);
  assert.equal(
    JSON.parse(text).definition_fingerprint,
    "v1 interval 1000 max=-",
  );
  const decoded = decodeJobState(text, "job");
  assert.equal(decoded.definition, "v1 interval 1000 max=-");
  assert.deepEqual(decoded, state(), "the field does not change equality");
  const rust = JSON.stringify({
    job_id: "job",
    trigger_count: 3,
    last_run_at: null,
    last_success_at: null,
    next_run_at: null,
    last_error: null,
  });
  assert.equal(decodeJobState(rust, "job").definition, undefined);
  assert.equal(
    encodeJobState(decodeJobState(rust, "job")),
    rust,
    "a Rust state is written back unchanged until the scheduler stamps it",
  );
  assert.throws(
    () =>
      decodeJobState(
        JSON.stringify({ ...JSON.parse(rust), definition_fingerprint: 7 }),
        "job",
      ),
    (error) =>
      error instanceof StoreError && error.kind === "data" &&
      error.message.includes('"job"') &&
      error.message.includes("definition_fingerprint"),
  );
});

Deno.test("two instances reconciling one stored interval state a moment apart run each occurrence once (real time, short)", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const shared = new InMemoryStateStore();
    const now = Date.now();
    // Written by the previous deployment, which ran every 5 s.
    await shared.save(withDefinition({
      jobId: "deploy",
      triggerCount: 2,
      lastRunAt: null,
      lastSuccessAt: null,
      nextRunAt: new Date(now + 5_000),
      lastError: null,
    }, "v1 interval 5000 max=-"));
    // Each instance's load answers after its own delay, so each reconciles
    // at its own "now".
    const slowLoad = (ms: number): StateStore => ({
      load: async (id) => {
        const state = await shared.load(id);
        await new Promise((resolve) => setTimeout(resolve, ms));
        return state;
      },
      save: (state) => shared.save(state),
      delete: (id) => shared.delete(id),
    });
    const lease = { ttlMs: 2_000, renewIntervalMs: 500 };
    const ran: number[] = [];
    const job = Job.withoutDeps(
      "deploy",
      Schedule.interval(300),
      Task.fromSync(({ run }) => void ran.push(run.scheduledAt.getTime())),
    ).withMaxRuns(5);
    await Promise.all([5, 40].map((ms) =>
      new Scheduler({}, slowLoad(ms), {
        guard: new DenoKvExecutionGuard(kv, lease),
      }).run(job)
    ));
    // Both picked instants of one grid (the stored next run's), so the guard
    // saw one slot per occurrence: 3 runs for triggers 3 to 5.
    assert.equal(ran.length, 3, `runs at ${ran.map((at) => at - now)}`);
    assert.equal(new Set(ran).size, 3);
    assert.ok(ran.every((at) => (now + 5_000 - at) % 300 === 0));
  } finally {
    kv.close();
  }
});
