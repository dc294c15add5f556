/**
 * Every invalid argument of the public API is refused with a typed
 * `InvalidJobError` (right `kind`, message naming the offending value),
 * synchronously from constructors and builders, and as a rejection from
 * `run()`.
 */
import assert from "node:assert/strict";
import {
  type ExecutionGuard,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  type JobState,
  MissedRunPolicy,
  NoopExecutionGuard,
  OverlapPolicy,
  Schedule,
  Scheduler,
  type SchedulerConfig,
  SchedulerError,
  type SchedulerObserver,
  type StateStore,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { recordEvents, settle, T0 } from "./_engine_helpers.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const noop = Task.fromSync(() => {});
const every = Schedule.interval(1000);

/** Asserts that `fn` throws an InvalidJobError of `kind` whose message has every fragment. */
function assertInvalid(
  fn: () => unknown,
  kind: string,
  ...fragments: string[]
): InvalidJobError {
  let caught: unknown = undefined;
  let threw = false;
  try {
    fn();
  } catch (error) {
    threw = true;
    caught = error;
  }
  assert.ok(threw, "expected an InvalidJobError, but nothing was thrown");
  assert.ok(
    caught instanceof InvalidJobError,
    `expected an InvalidJobError, got ${
      caught instanceof Error
        ? `${caught.name}: ${caught.message}`
        : String(caught)
    }`,
  );
  assert.ok(caught instanceof SchedulerError);
  assert.equal(caught.kind, kind, `kind of: ${caught.message}`);
  assert.ok(caught.message.length > 0);
  for (const fragment of fragments) {
    assert.ok(
      caught.message.includes(fragment),
      `message ${JSON.stringify(caught.message)} should include ${
        JSON.stringify(fragment)
      }`,
    );
  }
  return caught;
}

/** Asserts that `promise` rejects with an InvalidJobError of `kind` naming every fragment. */
async function assertRejectsInvalid(
  promise: Promise<unknown>,
  kind: string,
  ...fragments: string[]
): Promise<InvalidJobError> {
  let caught: unknown = undefined;
  let rejected = false;
  try {
    await promise;
  } catch (error) {
    rejected = true;
    caught = error;
  }
  assert.ok(rejected, "expected run() to reject, but it resolved");
  return assertInvalid(
    () => {
      throw caught;
    },
    kind,
    ...fragments,
  );
}

// ---------------------------------------------------------------------------
// Job constructor: job id

Deno.test("Job: an empty job id is kind other and the message shows the empty string", () => {
  assertInvalid(
    () => new Job("", every, undefined, noop),
    "other",
    '""',
    "job id",
  );
});

Deno.test("Job: a non-string job id is kind other and named", () => {
  assertInvalid(
    () => new Job(42 as Any, every, undefined, noop),
    "other",
    "42",
  );
  assertInvalid(
    () => new Job(undefined as Any, every, undefined, noop),
    "other",
    "undefined",
  );
  assertInvalid(
    () => new Job(null as Any, every, undefined, noop),
    "other",
    "null",
  );
  assertInvalid(
    () => new Job(Symbol("sym") as Any, every, undefined, noop),
    "other",
    "Symbol(sym)",
  );
});

Deno.test("Job: a job id of 513 characters is refused, 512 is accepted", () => {
  const tooLong = "x".repeat(513);
  assertInvalid(
    () => new Job(tooLong, every, undefined, noop),
    "other",
    "513",
    "512",
    "xxxxxxxxxx",
  );
  const longest = "y".repeat(512);
  const job = new Job(longest, every, undefined, noop);
  assert.equal(job.jobId, longest);
  assert.equal(job.jobId.length, 512);
});

Deno.test("Job: job ids with control characters are refused and shown escaped", () => {
  for (
    const id of [
      "a\nb",
      "a\u0000b",
      "tab\there",
      "del\u007f",
      "c1\u0085x",
      "\r",
    ]
  ) {
    assertInvalid(
      () => new Job(id, every, undefined, noop),
      "other",
      JSON.stringify(id),
      "control",
    );
  }
  // Non-control Unicode is fine.
  assert.equal(new Job("job-ü-✓ 1", every, undefined, noop).jobId, "job-ü-✓ 1");
});

Deno.test("Job: a job id that cannot be turned into a string still gets an InvalidJobError", () => {
  // `String(Object.create(null))` throws a TypeError; the validator must not.
  assertInvalid(
    () => new Job(Object.create(null), every, undefined, noop),
    "other",
    "job id",
  );
});

// ---------------------------------------------------------------------------
// Job constructor: schedule

Deno.test("Job: a hand-built zero interval is kind zero-interval", () => {
  assertInvalid(
    () => new Job("a", { kind: "interval", everyMs: 0 }, undefined, noop),
    "zero-interval",
    "0",
  );
});

Deno.test("Job: hand-built intervals out of range are kind interval-out-of-range and named", () => {
  for (
    const [everyMs, shown] of [
      [-5, "-5"],
      [Number.NaN, "NaN"],
      [Infinity, "Infinity"],
      [1.5, "1.5"],
      ["10", "10"],
      [8.64e15 + 1, "8640000000000001"],
    ] as const
  ) {
    assertInvalid(
      () =>
        new Job(
          "a",
          { kind: "interval", everyMs: everyMs as Any },
          undefined,
          noop,
        ),
      "interval-out-of-range",
      shown,
    );
  }
});

Deno.test("Job: hand-built schedules of an unknown kind, null or undefined are kind other and named", () => {
  assertInvalid(
    () => new Job("a", { kind: "bogus" } as Any, undefined, noop),
    "other",
    "bogus",
    "schedule",
  );
  assertInvalid(
    () => new Job("a", null as Any, undefined, noop),
    "other",
    "null",
  );
  assertInvalid(
    () => new Job("a", undefined as Any, undefined, noop),
    "other",
    "undefined",
  );
  assertInvalid(
    () => new Job("a", 1000 as Any, undefined, noop),
    "other",
    "1000",
  );
  assertInvalid(
    () => new Job("a", "*/5 * * * *" as Any, undefined, noop),
    "other",
    "*/5 * * * *",
  );
});

Deno.test("Job: hand-built at-times and cron schedules get the same checks as the constructors", () => {
  assertInvalid(
    () =>
      new Job(
        "a",
        { kind: "at-times", times: ["2026-01-01T00:00:00" as Any] },
        undefined,
        noop,
      ),
    "other",
    "2026-01-01T00:00:00",
  );
  assertInvalid(
    () =>
      new Job("a", { kind: "at-times", times: null } as Any, undefined, noop),
    "other",
    "null",
  );
  assertInvalid(
    () =>
      new Job(
        "a",
        { kind: "cron", cron: "61 * * * *" } as Any,
        undefined,
        noop,
      ),
    "cron-expression",
    "61 * * * *",
  );
  assertInvalid(
    () => new Job("a", { kind: "cron", cron: 42 } as Any, undefined, noop),
    "cron-expression",
    "42",
  );
  // Valid hand-built schedules are accepted.
  const hand = new Job(
    "a",
    { kind: "interval", everyMs: 250 },
    undefined,
    noop,
  );
  assert.equal(hand.schedule.kind, "interval");
  assert.equal((hand.schedule as { everyMs: number }).everyMs, 250);
});

Deno.test("Job: a schedule that JSON cannot render still gets an InvalidJobError", () => {
  const cyclic: Record<string, unknown> = { kind: "bogus" };
  cyclic.self = cyclic;
  assertInvalid(
    () => new Job("a", cyclic as Any, undefined, noop),
    "other",
    "schedule",
  );
  assertInvalid(
    () => new Job("a", { kind: "bogus", n: 1n } as Any, undefined, noop),
    "other",
    "schedule",
  );
});

Deno.test("Job: mutating a hand-built schedule after construction does not change the validated job", () => {
  const schedule = { kind: "interval" as const, everyMs: 1000 };
  const job = new Job("a", schedule, undefined, noop);
  (schedule as { everyMs: number }).everyMs = 0;
  assert.equal(job.schedule.kind, "interval");
  assert.equal(
    (job.schedule as { everyMs: number }).everyMs,
    1000,
    "the job must keep the value that was validated, not a live reference",
  );
});

// ---------------------------------------------------------------------------
// Job constructor: task

Deno.test("Job: a task that is not a Task is kind other and the value is shown", () => {
  assertInvalid(
    () => new Job("a", every, undefined, (() => {}) as Any),
    "other",
    "task",
    "function",
  );
  assertInvalid(
    () => new Job("a", every, undefined, null as Any),
    "other",
    "null",
  );
  assertInvalid(
    () => new Job("a", every, undefined, undefined as Any),
    "other",
    "undefined",
  );
  assertInvalid(
    () => new Job("a", every, undefined, { kind: "async" } as Any),
    "other",
    '{"kind":"async"}',
  );
});

Deno.test("Job: a valid job has the documented defaults and keeps deps by identity", () => {
  const deps = { url: "https://example.com" };
  const job = new Job("ok", every, deps, Task.fromSync<typeof deps>(() => {}));
  assert.equal(job.jobId, "ok");
  assert.equal(job.schedule, every);
  assert.equal(job.deps, deps);
  assert.equal(job.maxRuns, undefined);
  assert.equal(job.missedRunPolicy, "catch-up-once");
  assert.equal(job.overlapPolicy, "forbid");
});

// ---------------------------------------------------------------------------
// Job.withoutDeps

Deno.test("Job.withoutDeps: validates like the constructor", () => {
  assertInvalid(() => Job.withoutDeps("", every, noop), "other", '""');
  assertInvalid(() => Job.withoutDeps("a\nb", every, noop), "other", '"a\\nb"');
  assertInvalid(
    () => Job.withoutDeps("a", { kind: "interval", everyMs: 0 }, noop),
    "zero-interval",
  );
  assertInvalid(
    () => Job.withoutDeps("a", { kind: "bogus" } as Any, noop),
    "other",
    "bogus",
  );
  assertInvalid(() => Job.withoutDeps("a", every, 5 as Any), "other", "got 5");
  const job = Job.withoutDeps("fine", every, noop);
  assert.equal(job.deps, undefined);
  assert.equal(job.jobId, "fine");
});

// ---------------------------------------------------------------------------
// Builders

Deno.test("withMaxRuns: non-integers, negatives, non-numbers and unsafe integers are kind other", () => {
  const job = Job.withoutDeps("a", every, noop);
  for (
    const [n, shown] of [
      [-1, "-1"],
      [1.5, "1.5"],
      [Number.NaN, "NaN"],
      [Infinity, "Infinity"],
      ["3", "3"],
      [2 ** 53, String(2 ** 53)],
      [undefined, "undefined"],
      [null, "null"],
    ] as const
  ) {
    assertInvalid(() => job.withMaxRuns(n as Any), "other", "maxRuns", shown);
  }
  assert.equal(
    job.maxRuns,
    undefined,
    "failed builders leave the job unchanged",
  );
});

Deno.test("withMaxRuns: a value that cannot be turned into a string still gets an InvalidJobError", () => {
  const job = Job.withoutDeps("a", every, noop);
  assertInvalid(() => job.withMaxRuns(Object.create(null)), "other", "maxRuns");
});

Deno.test("withMaxRuns: 0 and the largest safe integer are accepted", () => {
  const job = Job.withoutDeps("a", every, noop);
  assert.equal(job.withMaxRuns(0).maxRuns, 0);
  assert.equal(
    job.withMaxRuns(Number.MAX_SAFE_INTEGER).maxRuns,
    Number.MAX_SAFE_INTEGER,
  );
});

Deno.test("withMissedRunPolicy / withOverlapPolicy: unknown values are kind other and named", () => {
  const job = Job.withoutDeps("a", every, noop);
  assertInvalid(
    () => job.withMissedRunPolicy("Skip" as Any),
    "other",
    "missedRunPolicy",
    '"Skip"',
  );
  assertInvalid(
    () => job.withMissedRunPolicy("catch-up" as Any),
    "other",
    '"catch-up"',
  );
  assertInvalid(
    () => job.withMissedRunPolicy(undefined as Any),
    "other",
    "undefined",
  );
  assertInvalid(
    () => job.withOverlapPolicy("parallel" as Any),
    "other",
    "overlapPolicy",
    '"parallel"',
  );
  assertInvalid(() => job.withOverlapPolicy(1 as Any), "other", "1");
  assert.equal(job.missedRunPolicy, "catch-up-once");
  assert.equal(job.overlapPolicy, "forbid");
});

Deno.test("withMissedRunPolicy / withOverlapPolicy: a BigInt value still gets an InvalidJobError", () => {
  const job = Job.withoutDeps("a", every, noop);
  assertInvalid(
    () => job.withMissedRunPolicy(7n as Any),
    "other",
    "missedRunPolicy",
  );
  assertInvalid(
    () => job.withOverlapPolicy(7n as Any),
    "other",
    "overlapPolicy",
  );
});

Deno.test("builders return new Job objects and leave the original unchanged", () => {
  const deps = { n: 1 };
  const original = new Job(
    "orig",
    every,
    deps,
    Task.fromSync<typeof deps>(() => {}),
  );
  const capped = original.withMaxRuns(3);
  const skipping = original.withMissedRunPolicy(MissedRunPolicy.Skip);
  const parallel = original.withOverlapPolicy(OverlapPolicy.AllowParallel);

  for (const copy of [capped, skipping, parallel]) {
    assert.ok(copy instanceof Job);
    assert.notEqual(copy, original);
    assert.equal(copy.jobId, "orig");
    assert.equal(copy.schedule, original.schedule);
    assert.equal(copy.deps, deps);
    assert.equal(copy.task, original.task);
  }
  assert.equal(capped.maxRuns, 3);
  assert.equal(skipping.missedRunPolicy, "skip");
  assert.equal(parallel.overlapPolicy, "allow-parallel");

  assert.equal(original.maxRuns, undefined);
  assert.equal(original.missedRunPolicy, "catch-up-once");
  assert.equal(original.overlapPolicy, "forbid");

  // Chained builders keep earlier choices.
  const chained = capped.withMissedRunPolicy("replay-all").withOverlapPolicy(
    "queue-one",
  );
  assert.equal(chained.maxRuns, 3);
  assert.equal(chained.missedRunPolicy, "replay-all");
  assert.equal(chained.overlapPolicy, "queue-one");
  assert.equal(capped.missedRunPolicy, "catch-up-once");
  assert.equal(capped.overlapPolicy, "forbid");
});

// ---------------------------------------------------------------------------
// Task constructors

Deno.test("Task.fromAsync / fromSync: non-functions are kind other and the value is shown", () => {
  for (const make of [Task.fromAsync, Task.fromSync] as const) {
    assertInvalid(() => make(null as Any), "other", "null");
    assertInvalid(() => make(undefined as Any), "other", "undefined");
    assertInvalid(() => make("run" as Any), "other", '"run"');
    assertInvalid(() => make({} as Any), "other", "{}");
    assertInvalid(() => make(12 as Any), "other", "got 12");
  }
  assert.equal(Task.fromAsync(async () => {}).kind, "async");
  assert.equal(Task.fromSync(() => {}).kind, "sync");
});

Deno.test("Task.fromWorker: relative or invalid module specifiers are kind other and quoted", () => {
  assertInvalid(() => Task.fromWorker("./work.ts"), "other", '"./work.ts"');
  assertInvalid(() => Task.fromWorker(""), "other", '""');
  assertInvalid(() => Task.fromWorker("not a url"), "other", '"not a url"');
  assertInvalid(() => Task.fromWorker(42 as Any), "other", "42");
  assertInvalid(() => Task.fromWorker(undefined as Any), "other", "undefined");
});

Deno.test("Task.fromWorker: an empty or non-string exportName is kind other and shown", () => {
  const module = new URL("./_no_such_worker.ts", import.meta.url);
  assertInvalid(
    () => Task.fromWorker(module, { exportName: 5 as Any }),
    "other",
    "exportName",
    "5",
  );
  // The offending value must be visible: the empty string rendered as "".
  assertInvalid(
    () => Task.fromWorker(module, { exportName: "" }),
    "other",
    "exportName",
    '""',
  );
});

Deno.test("Task.fromWorker: valid specifiers are accepted without loading the module", () => {
  const module = new URL("./_no_such_worker.ts", import.meta.url);
  assert.equal(Task.fromWorker(module).kind, "worker");
  assert.equal(
    Task.fromWorker(module.href, { exportName: "named" }).kind,
    "worker",
  );
});

Deno.test("Task.fromWorker: unusable arguments never escape as a TypeError", () => {
  const module = new URL("./_no_such_worker.ts", import.meta.url);
  // null options: either treated as "no options" or refused with InvalidJobError.
  try {
    assert.equal(Task.fromWorker(module, null as Any).kind, "worker");
  } catch (error) {
    assert.ok(error instanceof InvalidJobError, `got ${String(error)}`);
  }
  // A module specifier that cannot be turned into a string.
  assertInvalid(
    () => Task.fromWorker(Object.create(null)),
    "other",
    "fromWorker",
  );
});

// ---------------------------------------------------------------------------
// Scheduler constructor: config

function schedulerWith(config: unknown): Scheduler {
  return new Scheduler(config as SchedulerConfig, new InMemoryStateStore());
}

Deno.test("Scheduler: an unknown time zone is kind timezone and names it", () => {
  assertInvalid(
    () => schedulerWith({ timezone: "Mars/Base" }),
    "timezone",
    "Mars/Base",
  );
  assertInvalid(
    () => schedulerWith({ timezone: "Europe/Berlinn" }),
    "timezone",
    "Europe/Berlinn",
  );
  assertInvalid(() => schedulerWith({ timezone: "" }), "timezone", '""');
  assertInvalid(() => schedulerWith({ timezone: 42 }), "timezone", "42");
});

Deno.test("Scheduler: explicit null config values are refused, not silently replaced by defaults", () => {
  // Only an absent (undefined) option takes its default.
  assertInvalid(() => schedulerWith({ timezone: null }), "timezone", "null");
  assertInvalid(
    () => schedulerWith({ historyLimit: null }),
    "other",
    "historyLimit",
    "null",
  );
  assertInvalid(
    () => schedulerWith({ missedRunToleranceMs: null }),
    "other",
    "missedRunToleranceMs",
    "null",
  );
  assertInvalid(
    () => schedulerWith({ terminalStatePolicy: null }),
    "other",
    "terminalStatePolicy",
    "null",
  );
});

Deno.test("Scheduler: valid time zones and an empty config are accepted", () => {
  for (
    const timezone of [
      "UTC",
      "Europe/Berlin",
      "America/New_York",
      "Asia/Kolkata",
    ]
  ) {
    assert.ok(schedulerWith({ timezone }) instanceof Scheduler);
  }
  assert.ok(schedulerWith({}) instanceof Scheduler);
  assert.ok(
    schedulerWith({
      timezone: "Europe/Berlin",
      historyLimit: 0,
      terminalStatePolicy: "delete",
      missedRunToleranceMs: 0,
      dst: { gap: "skip", overlap: "both" },
    }) instanceof Scheduler,
  );
});

Deno.test("Scheduler: invalid historyLimit is kind other and named", () => {
  for (
    const [value, shown] of [
      [-1, "-1"],
      [1.5, "1.5"],
      [Number.NaN, "NaN"],
      [Infinity, "Infinity"],
      ["32", "32"],
      [2 ** 53, String(2 ** 53)],
    ] as const
  ) {
    assertInvalid(
      () => schedulerWith({ historyLimit: value }),
      "other",
      "historyLimit",
      shown,
    );
  }
});

Deno.test("Scheduler: invalid missedRunToleranceMs is kind other and named", () => {
  for (
    const [value, shown] of [
      [-1, "-1"],
      [Number.NaN, "NaN"],
      [Infinity, "Infinity"],
      ["1000", "1000"],
    ] as const
  ) {
    assertInvalid(
      () => schedulerWith({ missedRunToleranceMs: value }),
      "other",
      "missedRunToleranceMs",
      shown,
    );
  }
});

Deno.test("Scheduler: an unknown terminalStatePolicy is kind other and named", () => {
  assertInvalid(
    () => schedulerWith({ terminalStatePolicy: "keep" }),
    "other",
    "terminalStatePolicy",
    '"keep"',
  );
  assertInvalid(
    () => schedulerWith({ terminalStatePolicy: "Retain" }),
    "other",
    '"Retain"',
  );
});

Deno.test("Scheduler: invalid dst members and unknown dst keys are kind other and named", () => {
  assertInvalid(
    () => schedulerWith({ dst: { gap: "later" } }),
    "other",
    "gap",
    '"later"',
  );
  assertInvalid(
    () => schedulerWith({ dst: { overlap: "second" } }),
    "other",
    "overlap",
    '"second"',
  );
  assertInvalid(
    () => schedulerWith({ dst: { gaps: "skip" } }),
    "other",
    "gaps",
  );
  assertInvalid(() => schedulerWith({ dst: "skip" }), "other", "dst", "skip");
  assertInvalid(() => schedulerWith({ dst: null }), "other", "dst", "null");
});

Deno.test("Scheduler: unknown config keys (typos) are kind other and named", () => {
  assertInvalid(() => schedulerWith({ timeZone: "UTC" }), "other", "timeZone");
  assertInvalid(
    () => schedulerWith({ history_limit: 3 }),
    "other",
    "history_limit",
  );
  assertInvalid(() => schedulerWith("UTC"), "other", "UTC");
});

Deno.test("Scheduler: config values that cannot be turned into strings still get an InvalidJobError", () => {
  assertInvalid(
    () => schedulerWith({ historyLimit: Object.create(null) }),
    "other",
    "historyLimit",
  );
  assertInvalid(
    () => schedulerWith({ timezone: Object.create(null) }),
    "timezone",
  );
  assertInvalid(
    () => schedulerWith({ terminalStatePolicy: 1n }),
    "other",
    "terminalStatePolicy",
  );
  assertInvalid(() => schedulerWith({ dst: { gap: 1n } }), "other", "gap");
});

// ---------------------------------------------------------------------------
// Scheduler constructor: store, guard, observer

function store(methods: Partial<StateStore>): StateStore {
  return methods as StateStore;
}

Deno.test("Scheduler: a store missing methods is kind other and names them", () => {
  const load = () => Promise.resolve(undefined);
  const save = () => Promise.resolve();
  assertInvalid(
    () => new Scheduler({}, store({ load, save })),
    "other",
    "store",
    "delete",
  );
  assertInvalid(
    () => new Scheduler({}, store({ load })),
    "other",
    "save",
    "delete",
  );
  assertInvalid(
    () => new Scheduler({}, store({})),
    "other",
    "load",
    "save",
    "delete",
  );
  assertInvalid(() => new Scheduler({}, null as Any), "other", "store");
  assertInvalid(
    () => new Scheduler({}, { load, save, delete: "nope" } as Any),
    "other",
    "delete",
  );
});

Deno.test("Scheduler: a guard missing methods is kind other and names them", () => {
  const acquire = () =>
    new NoopExecutionGuard().acquire({ jobId: "a", scheduledAt: new Date(0) });
  assertInvalid(
    () =>
      new Scheduler({}, new InMemoryStateStore(), {
        guard: { acquire } as Any,
      }),
    "other",
    "guard",
    "renew",
    "release",
  );
  assertInvalid(
    () =>
      Scheduler.withExecutionGuard(
        {},
        new InMemoryStateStore(),
        {} as ExecutionGuard,
      ),
    "other",
    "acquire",
  );
});

Deno.test("Scheduler: a guard whose optional renewIntervalMs is not a function is refused", () => {
  const noopGuard = new NoopExecutionGuard();
  const guard = {
    acquire: (slot: Any) => noopGuard.acquire(slot),
    renew: () => Promise.resolve("renewed"),
    release: () => Promise.resolve(),
    renewIntervalMs: 5000,
  };
  assertInvalid(
    () => new Scheduler({}, new InMemoryStateStore(), { guard: guard as Any }),
    "other",
    "renewIntervalMs",
  );
});

Deno.test("Scheduler: an observer without onEvent is kind other and names it", () => {
  assertInvalid(
    () =>
      new Scheduler({}, new InMemoryStateStore(), {
        observer: {} as SchedulerObserver,
      }),
    "other",
    "observer",
    "onEvent",
  );
  assertInvalid(
    () =>
      Scheduler.withObserver(
        {},
        new InMemoryStateStore(),
        { onEvent: 1 } as Any,
      ),
    "other",
    "onEvent",
  );
  assertInvalid(
    () =>
      new Scheduler({}, new InMemoryStateStore(), { observer: null as Any }),
    "other",
    "onEvent",
  );
});

Deno.test("Scheduler: options that are null never escape as a TypeError", () => {
  try {
    assert.ok(
      new Scheduler({}, new InMemoryStateStore(), null as Any) instanceof
        Scheduler,
    );
  } catch (error) {
    assert.ok(error instanceof InvalidJobError, `got ${String(error)}`);
  }
});

// ---------------------------------------------------------------------------
// run()

Deno.test("run(): a non-Job rejects with InvalidJobError kind other, never synchronously", async () => {
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  for (
    const [value, shown] of [
      [null, "null"],
      [undefined, "undefined"],
      [{ jobId: "fake", schedule: every, task: noop }, '"jobId":"fake"'],
      ["job", '"job"'],
    ] as const
  ) {
    let promise: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      promise = scheduler.run(value as Any);
    });
    await assertRejectsInvalid(promise!, "other", "Job", shown);
  }
});

Deno.test("run(): a signal option that is not an AbortSignal rejects with InvalidJobError", async () => {
  const store = new InMemoryStateStore();
  const scheduler = new Scheduler({}, store);
  const job = Job.withoutDeps("a", every, noop);
  await assertRejectsInvalid(
    scheduler.run(job, { signal: "stop" as Any }),
    "other",
    "signal",
    '"stop"',
  );
  await assertRejectsInvalid(
    scheduler.run(job, { signal: { aborted: false } as Any }),
    "other",
    "signal",
    '{"aborted":false}',
  );
  // Nothing was started or stored by the refused calls.
  assert.equal(await store.load("a"), undefined);
});

Deno.test("run(): a refused run() leaves the scheduler usable", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const scheduler = new Scheduler({}, store);
    const job = Job.withoutDeps("after-refusal", every, noop).withMaxRuns(1);
    await assertRejectsInvalid(
      scheduler.run(job, { signal: 1 as Any }),
      "other",
      "signal",
    );
    assert.equal(
      await store.load("after-refusal"),
      undefined,
      "a refused run stores nothing",
    );
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, "terminal");
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, "success");
  });
});

Deno.test("run(): a second concurrent run() rejects with SchedulerError; the first goes on and shuts down", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const handle = scheduler.handle();
    let runs = 0;
    const first = Job.withoutDeps(
      "first",
      every,
      Task.fromSync(() => {
        runs++;
      }),
    );
    const second = Job.withoutDeps("second", every, noop).withMaxRuns(1);

    const running = scheduler.run(first);
    let secondError: unknown;
    try {
      await scheduler.run(second);
    } catch (error) {
      secondError = error;
    }
    assert.ok(
      secondError instanceof SchedulerError,
      `got ${String(secondError)}`,
    );
    assert.ok(!(secondError instanceof InvalidJobError));
    assert.ok(
      (secondError as Error).message.includes("first"),
      `message should name the running job: ${(secondError as Error).message}`,
    );
    // The same job again is refused too.
    await assert.rejects(scheduler.run(first), SchedulerError);

    setTimeout(() => handle.shutdown(), 2500);
    const report = await settle(clock, running);
    assert.equal(report.jobId, "first");
    assert.equal(report.stopReason, "shutdown");
    assert.equal(runs, 2);
    assert.deepEqual(
      report.history.map((r) => r.scheduledAt.getTime()),
      [T0 + 1000, T0 + 2000],
    );
    assert.ok(report.history.every((r) => r.status === "success"));

    // Once the first run() has ended, the scheduler accepts a new one.
    const later = await settle(clock, scheduler.run(second));
    assert.equal(later.jobId, "second");
    assert.equal(later.stopReason, "terminal");
    assert.equal(later.history.length, 1);
  });
});

Deno.test("run(): an interval beyond the Date range from now rejects interval-out-of-range and emits scheduler-stopped failed", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    let ran = false;
    // Valid on its own (≤ 8.64e15), but now + everyMs is past the end of the Date range.
    const job = Job.withoutDeps(
      "huge",
      Schedule.interval(8.64e15),
      Task.fromSync(() => {
        ran = true;
      }),
    );
    const error = await assertRejectsInvalid(
      settle(clock, scheduler.run(job)),
      "interval-out-of-range",
      "8640000000000000",
    );
    assert.equal(ran, false);
    const stopped = events.filter((e) => e.type === "scheduler-stopped");
    assert.equal(stopped.length, 1);
    const last = events.at(-1)!;
    assert.equal(last.type, "scheduler-stopped");
    if (last.type === "scheduler-stopped") {
      assert.equal(last.jobId, "huge");
      assert.equal(last.reason, "failed");
      assert.equal(last.error, error.message);
    }
    assert.ok(!events.some((e) => e.type === "run-started"));
    assert.equal(
      await store.load("huge"),
      undefined,
      "no state is stored for a refused job",
    );

    // The scheduler is usable afterwards.
    const ok = await settle(
      clock,
      scheduler.run(Job.withoutDeps("ok", every, noop).withMaxRuns(1)),
    );
    assert.equal(ok.stopReason, "terminal");
  });
});

Deno.test("run(): repairing a stored interval state beyond the Date range rejects interval-out-of-range; the stored state is kept", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const stored: JobState = {
      jobId: "huge-repair",
      triggerCount: 1,
      lastRunAt: new Date(T0 - 10_000),
      lastSuccessAt: new Date(T0 - 9_000),
      nextRunAt: null,
      lastError: null,
    };
    await store.save(stored);
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    const job = Job.withoutDeps(
      "huge-repair",
      Schedule.interval(8.64e15),
      noop,
    );
    await assertRejectsInvalid(
      settle(clock, scheduler.run(job)),
      "interval-out-of-range",
      "8640000000000000",
    );
    const last = events.at(-1);
    assert.equal(last?.type, "scheduler-stopped");
    assert.equal(
      last?.type === "scheduler-stopped" ? last.reason : undefined,
      "failed",
    );
    assert.deepEqual(await store.load("huge-repair"), stored);
  });
});

Deno.test("Job: a frozen hand-built at-times schedule is still sorted", () => {
  const times = Object.freeze([new Date(300), new Date(100), new Date(200)]);
  const job = new Job(
    "frozen",
    Object.freeze({ kind: "at-times" as const, times }),
    undefined,
    Task.fromSync(() => {}),
  );
  assert.equal(job.schedule.kind, "at-times");
  assert.deepEqual(
    (job.schedule as { times: readonly Date[] }).times.map((t) => t.getTime()),
    [100, 200, 300],
  );
});

Deno.test("Job: worker deps that cannot be cloned are refused at construction", () => {
  const worker = Task.fromWorker<{ fn: () => number }>(
    new URL("./fixtures/worker_tasks.ts", import.meta.url),
  );
  assert.throws(
    () =>
      new Job("worker-deps", Schedule.interval(1000), { fn: () => 1 }, worker),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "other" &&
      error.message.includes("structured-cloneable"),
  );
});

Deno.test("Task.fromWorker accepts an absolute file path", () => {
  assert.equal(Task.fromWorker("/srv/jobs/report.ts").kind, "worker");
});
