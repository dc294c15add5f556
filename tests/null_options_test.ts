/**
 * `null` is refused, not defaulted: only a missing option (absent or
 * `undefined`) takes its default. A store or guard that is `null` (one that
 * failed to open) would otherwise be replaced by an in-memory store (state
 * lost at every restart) or by no coordination (every instance runs every
 * occurrence), without a word.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  InvalidJobError,
  JobGroup,
  NoopExecutionGuard,
  schedule,
  Scheduler,
} from "../mod.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** The call throws `InvalidJobError` kind `other` naming each of `words`. */
function assertRefused(call: () => unknown, ...words: string[]): void {
  let caught: unknown;
  try {
    const made = call() as { cancel?: () => void } | undefined;
    made?.cancel?.();
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof InvalidJobError,
    `expected an InvalidJobError naming ${words.join(", ")}, got ${
      String(caught)
    }`,
  );
  assert.equal(caught.kind, "other");
  for (const word of words) {
    assert.ok(
      caught.message.includes(word),
      `${JSON.stringify(caught.message)} should name ${word}`,
    );
  }
}

const noop = () => {};

Deno.test("schedule() refuses a null store, guard, observer or job id before anything runs", async () => {
  let ran = 0;
  const task = () => void ran++;
  for (const key of ["store", "guard", "observer", "jobId"]) {
    assertRefused(
      () =>
        schedule(
          { everyMs: 10 },
          { jobId: "a", maxRuns: 1, [key]: null } as Any,
          task,
        ),
      key,
      "null",
    );
  }
  // Absent and undefined keep their defaults: the job runs on its own
  // in-memory store.
  const job = schedule(
    { everyMs: 10 },
    { jobId: "a", store: undefined, guard: undefined, maxRuns: 1 },
    task,
  );
  assert.equal((await job.done).stopReason, "terminal");
  assert.equal(ran, 1);
});

Deno.test("new JobGroup() refuses a null store, guard, timezone or observer", async () => {
  for (const key of ["store", "guard", "timezone", "observer"]) {
    assertRefused(() => new JobGroup({ [key]: null } as Any), key, "null");
  }
  const group = new JobGroup({ store: undefined, guard: undefined });
  // A job's own null would otherwise fall back to the group's value (or to
  // the schedule's text for the job id).
  for (const key of ["timezone", "observer"]) {
    assertRefused(
      () => group.schedule({ everyMs: 10 }, { jobId: key, [key]: null }, noop),
      key,
      "null",
    );
  }
  assertRefused(
    () => group.schedule({ everyMs: 10 }, { jobId: null as Any }, noop),
    "jobId",
    "null",
  );
  assert.deepEqual([...group.jobs.keys()], []);
  group.schedule({ everyMs: 10 }, { jobId: "ok", maxRuns: 1 }, noop);
  const reports = await group.done();
  assert.deepEqual(reports.map((report) => report.stopReason), ["terminal"]);
});

Deno.test("new Scheduler() refuses a null config or guard; undefined keeps the default", () => {
  const store = new InMemoryStateStore();
  assertRefused(() => new Scheduler(null as Any, store), "config", "null");
  assertRefused(
    () => new Scheduler({}, store, { guard: null as Any }),
    "guard",
    "null",
  );
  assert.ok(new Scheduler(undefined as Any, store, { guard: undefined }));
});

Deno.test("Scheduler.withExecutionGuard() and withObserver() need the part they exist for", () => {
  const store = new InMemoryStateStore();
  for (const missing of [undefined, null]) {
    assertRefused(
      () => Scheduler.withExecutionGuard({}, store, missing as Any),
      "withExecutionGuard",
      "guard",
      String(missing),
    );
    assertRefused(
      () => Scheduler.withObserver({}, store, missing as Any),
      "withObserver",
      "observer",
      String(missing),
    );
  }
  assert.ok(
    Scheduler.withExecutionGuard({}, store, new NoopExecutionGuard()),
  );
  assert.ok(Scheduler.withObserver({}, store, { onEvent: noop }));
});
