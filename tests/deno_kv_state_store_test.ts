/**
 * `DenoKvStateStore`: round trips, copies, the Rust crate's JSON text as the
 * stored value, key layout, corrupt values, restarts through a KV file,
 * ownership of the database, and errors of a closed database.
 */
import assert from "node:assert/strict";
import {
  DenoKvStateStore,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  type JobState,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { drive, KvIo, trackKv } from "./_kv_helpers.ts";
import { assertStoreError } from "./_assert_errors.ts";
import { recordEvents, T0 } from "./_engine_helpers.ts";

const DEFAULT_PREFIX = ["scheduler", "job-state"] as const;

function state(overrides: Partial<JobState> & { jobId: string }): JobState {
  return {
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: null,
    lastError: null,
    ...overrides,
  };
}

/** A full state: every field set, instants with and without milliseconds. */
function fullState(jobId = "full"): JobState {
  return {
    jobId,
    triggerCount: 42,
    lastRunAt: new Date("2026-04-03T01:02:03.123Z"),
    lastSuccessAt: new Date("2026-04-03T01:02:04Z"),
    nextRunAt: new Date("2026-04-03T01:03:00.007Z"),
    lastError: 'boom: "quoted" and ünïcödé',
  };
}

/** Runs `body` with an in-memory KV that is always closed afterwards. */
async function withKv<T>(body: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await Deno.openKv(":memory:");
  try {
    return await body(kv);
  } finally {
    kv.close();
  }
}

/** Runs `body` with a fresh temp KV file path, removed afterwards. */
async function withKvFile<T>(body: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "kv-state-store-test-" });
  try {
    return await body(`${dir}/state.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------
// Round trips and copies
// ---------------------------------------------------------------------------

Deno.test("DenoKvStateStore round-trips a full state with milliseconds", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    const saved = fullState();
    await store.save(saved);
    const loaded = await store.load("full");
    assert.deepEqual(loaded, saved);
    assert.ok(loaded?.lastRunAt instanceof Date);
    assert.equal(loaded.lastRunAt.getTime() % 1000, 123);
    assert.equal(loaded.nextRunAt?.getTime(), saved.nextRunAt?.getTime());
  });
});

Deno.test("DenoKvStateStore round-trips a state with nulls and a missing job loads as undefined", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    const saved = state({ jobId: "nulls" });
    await store.save(saved);
    assert.deepEqual(await store.load("nulls"), saved);
    assert.equal(await store.load("missing"), undefined);
    assert.equal(await store.load("null"), undefined);
  });
});

Deno.test("DenoKvStateStore saving again moves the state forward, never back (issue 13)", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    const full = fullState("job");
    await store.save(full);
    const next = state({
      jobId: "job",
      triggerCount: 43,
      nextRunAt: new Date(T0),
    });
    await store.save(next);
    // The cursor moves on; the instants and error of the latest run stay.
    assert.deepEqual(await store.load("job"), {
      ...next,
      lastRunAt: full.lastRunAt,
      lastSuccessAt: full.lastSuccessAt,
      lastError: full.lastError,
    });
  });
});

Deno.test("DenoKvStateStore loads return copies", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    const saved = fullState("copies");
    await store.save(saved);
    const first = await store.load("copies");
    assert.ok(first !== undefined);
    first.triggerCount = 99;
    first.lastError = "mutated";
    first.lastRunAt?.setTime(0);
    first.nextRunAt = null;
    const second = await store.load("copies");
    assert.deepEqual(second, saved);
    assert.notEqual(second, first);
  });
});

Deno.test("DenoKvStateStore mutating a saved object does not change what is stored", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    const saved = fullState("saved-copy");
    const expected = fullState("saved-copy");
    await store.save(saved);
    saved.triggerCount = 1;
    saved.lastRunAt?.setTime(0);
    saved.lastError = null;
    saved.nextRunAt = null;
    assert.deepEqual(await store.load("saved-copy"), expected);
  });
});

// ---------------------------------------------------------------------------
// The stored value: the Rust crate's JSON text
// ---------------------------------------------------------------------------

Deno.test("DenoKvStateStore stores the Rust crate's JSON text with RFC 3339 UTC timestamps", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    await store.save(fullState("rust-json"));
    const entry = await kv.get([...DEFAULT_PREFIX, "rust-json"]);
    assert.equal(typeof entry.value, "string", "stored as a JSON string");
    assert.deepEqual(JSON.parse(entry.value as string), {
      job_id: "rust-json",
      trigger_count: 42,
      last_run_at: "2026-04-03T01:02:03.123Z",
      last_success_at: "2026-04-03T01:02:04Z",
      next_run_at: "2026-04-03T01:03:00.007Z",
      last_error: 'boom: "quoted" and ünïcödé',
    });
  });
});

Deno.test("DenoKvStateStore stores nulls as JSON null", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    await store.save(
      state({
        jobId: "nulls-json",
        triggerCount: 3,
        nextRunAt: new Date(T0),
      }),
    );
    const entry = await kv.get<string>([...DEFAULT_PREFIX, "nulls-json"]);
    assert.equal(typeof entry.value, "string");
    assert.deepEqual(JSON.parse(entry.value!), {
      job_id: "nulls-json",
      trigger_count: 3,
      last_run_at: null,
      last_success_at: null,
      next_run_at: "2026-04-03T01:02:03Z",
      last_error: null,
    });
  });
});

Deno.test("DenoKvStateStore reads a value written by the Rust crate (nanoseconds, +00:00)", async () => {
  await withKv(async (kv) => {
    const rustText = JSON.stringify({
      job_id: "from-rust",
      trigger_count: 7,
      last_run_at: "2026-04-03T01:02:03.123456789Z",
      last_success_at: "2026-04-03T01:02:04+00:00",
      next_run_at: "2026-04-03T01:03:00.999999999Z",
      last_error: "task failed",
    });
    await kv.set([...DEFAULT_PREFIX, "from-rust"], rustText);
    const store = new DenoKvStateStore(kv);
    assert.deepEqual(await store.load("from-rust"), {
      jobId: "from-rust",
      triggerCount: 7,
      lastRunAt: new Date("2026-04-03T01:02:03.123Z"),
      lastSuccessAt: new Date("2026-04-03T01:02:04Z"),
      // Truncated to milliseconds, never rounded up into the next second.
      nextRunAt: new Date("2026-04-03T01:03:00.999Z"),
      lastError: "task failed",
    });
    // Loading does not rewrite the value.
    assert.equal(
      (await kv.get([...DEFAULT_PREFIX, "from-rust"])).value,
      rustText,
    );
  });
});

Deno.test("DenoKvStateStore reads Rust JSON with nulls and a non-UTC offset", async () => {
  await withKv(async (kv) => {
    await kv.set(
      [...DEFAULT_PREFIX, "offset"],
      '{"job_id":"offset","trigger_count":0,"last_run_at":null,' +
        '"last_success_at":null,"next_run_at":"2026-04-03T09:02:03+08:00",' +
        '"last_error":null}',
    );
    const store = new DenoKvStateStore(kv);
    assert.deepEqual(
      await store.load("offset"),
      state({ jobId: "offset", nextRunAt: new Date(T0) }),
    );
  });
});

// ---------------------------------------------------------------------------
// Key layout
// ---------------------------------------------------------------------------

Deno.test("DenoKvStateStore default key is ['scheduler', 'job-state', jobId]", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    await store.save(state({ jobId: "keyed", triggerCount: 5 }));
    const keys: Deno.KvKey[] = [];
    for await (const entry of kv.list({ prefix: [] })) keys.push(entry.key);
    assert.deepEqual(keys, [["scheduler", "job-state", "keyed"]]);
  });
});

Deno.test("DenoKvStateStore custom key prefixes isolate two stores on one KV", async () => {
  await withKv(async (kv) => {
    const a = new DenoKvStateStore(kv, { keyPrefix: ["app-a", "jobs"] });
    const b = new DenoKvStateStore(kv, { keyPrefix: ["app-b"] });
    const stateA = state({ jobId: "shared", triggerCount: 1 });
    const stateB = state({
      jobId: "shared",
      triggerCount: 2,
      lastError: "b",
    });
    await a.save(stateA);
    await b.save(stateB);
    assert.deepEqual(await a.load("shared"), stateA);
    assert.deepEqual(await b.load("shared"), stateB);
    assert.equal(
      typeof (await kv.get(["app-a", "jobs", "shared"])).value,
      "string",
    );
    assert.equal(typeof (await kv.get(["app-b", "shared"])).value, "string");
    assert.equal((await kv.get([...DEFAULT_PREFIX, "shared"])).value, null);
    // A default-prefix store on the same KV sees neither.
    assert.equal(await new DenoKvStateStore(kv).load("shared"), undefined);
    await a.delete("shared");
    assert.equal(await a.load("shared"), undefined);
    assert.deepEqual(await b.load("shared"), stateB);
  });
});

Deno.test("DenoKvStateStore.open accepts a keyPrefix", async () => {
  await withKvFile(async (path) => {
    const store = await DenoKvStateStore.open(path, { keyPrefix: ["mine"] });
    try {
      await store.save(state({ jobId: "p", triggerCount: 4 }));
    } finally {
      store.close();
    }
    const kv = await Deno.openKv(path);
    try {
      const entry = await kv.get<string>(["mine", "p"]);
      assert.equal(JSON.parse(entry.value!).trigger_count, 4);
      assert.equal((await kv.get([...DEFAULT_PREFIX, "p"])).value, null);
    } finally {
      kv.close();
    }
  });
});

Deno.test("DenoKvStateStore delete removes only that key; deleting a missing key is fine", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    await store.save(state({ jobId: "a", triggerCount: 1 }));
    await store.save(state({ jobId: "b", triggerCount: 2 }));
    await kv.set(["scheduler", "other"], "unrelated");
    await store.delete("a");
    assert.equal(await store.load("a"), undefined);
    assert.equal((await kv.get([...DEFAULT_PREFIX, "a"])).value, null);
    assert.equal((await store.load("b"))?.triggerCount, 2);
    assert.equal((await kv.get(["scheduler", "other"])).value, "unrelated");
    await store.delete("a");
    await store.delete("never-saved");
    assert.equal((await store.load("b"))?.triggerCount, 2);
  });
});

// ---------------------------------------------------------------------------
// Corrupt values
// ---------------------------------------------------------------------------

const validFields = {
  job_id: "corrupt-job",
  trigger_count: 3,
  last_run_at: null,
  last_success_at: null,
  next_run_at: "2026-04-03T01:02:03Z",
  last_error: null,
};

const corruptValues: ReadonlyArray<readonly [string, unknown]> = [
  ["a number stored directly", 42],
  ["an object stored directly", { ...validFields }],
  ["a Uint8Array stored directly", new TextEncoder().encode("{}")],
  ["bad JSON", '{"job_id":"corrupt-job",'],
  ["a JSON array", "[]"],
  ["JSON null", "null"],
  [
    "trigger_count as a string",
    JSON.stringify({ ...validFields, trigger_count: "3" }),
  ],
  [
    "a negative trigger_count",
    JSON.stringify({ ...validFields, trigger_count: -1 }),
  ],
  [
    "a fractional trigger_count",
    JSON.stringify({ ...validFields, trigger_count: 1.5 }),
  ],
  [
    "an unparsable date",
    JSON.stringify({ ...validFields, last_run_at: "yesterday" }),
  ],
  [
    "an impossible date",
    JSON.stringify({ ...validFields, next_run_at: "2026-02-30T00:00:00Z" }),
  ],
  [
    "a date that is a number",
    JSON.stringify({ ...validFields, last_success_at: 1_775_178_123_000 }),
  ],
  [
    "a date without an offset",
    JSON.stringify({ ...validFields, next_run_at: "2026-04-03T01:02:03" }),
  ],
  [
    "last_error that is a number",
    JSON.stringify({ ...validFields, last_error: 5 }),
  ],
  [
    "the job_id of another job",
    JSON.stringify({ ...validFields, job_id: "another-job" }),
  ],
];

for (const [what, value] of corruptValues) {
  Deno.test(`DenoKvStateStore load of ${what} is a data error and the value stays`, async () => {
    await withKv(async (kv) => {
      const key = [...DEFAULT_PREFIX, "corrupt-job"];
      await kv.set(key, value);
      const before = await kv.get(key);
      const store = new DenoKvStateStore(kv);
      await assertStoreError(store.load("corrupt-job"), {
        kind: "data",
        operation: "load",
        includes: "corrupt-job",
      });
      // Twice: the first load did not repair or replace anything.
      await assertStoreError(store.load("corrupt-job"), {
        kind: "data",
        operation: "load",
        includes: "corrupt-job",
      });
      const after = await kv.get(key);
      assert.deepEqual(after.value, value);
      assert.equal(after.versionstamp, before.versionstamp, "never rewritten");
    });
  });
}

Deno.test("DenoKvStateStore a corrupt value of one job does not affect another", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    await kv.set([...DEFAULT_PREFIX, "broken"], "{nope");
    await store.save(state({ jobId: "fine", triggerCount: 1 }));
    assert.equal((await store.load("fine"))?.triggerCount, 1);
    await assertStoreError(store.load("broken"), {
      kind: "data",
      includes: "broken",
    });
  });
});

Deno.test("Scheduler.run rejects with a data StoreError on a corrupt stored value and leaves it", async () => {
  for (
    const value of [42, "not json", '{"job_id":"other","trigger_count":1}']
  ) {
    await withKv(async (kv) => {
      const key = [...DEFAULT_PREFIX, "corrupt-run"];
      await kv.set(key, value);
      const before = await kv.get(key);
      const store = new DenoKvStateStore(kv);
      const scheduler = new Scheduler({}, store);
      const events = recordEvents(scheduler);
      let invocations = 0;
      const job = Job.withoutDeps(
        "corrupt-run",
        Schedule.atTimes([Date.now() + 10]),
        Task.fromSync(() => void invocations++),
      );
      const error = await assertStoreError(scheduler.run(job), {
        kind: "data",
        operation: "load",
        includes: "corrupt-run",
      });
      assert.equal(invocations, 0);
      const stopped = events.find((e) => e.type === "scheduler-stopped");
      assert.equal(stopped?.type, "scheduler-stopped");
      assert.equal(stopped.reason, "failed");
      assert.equal(stopped.error, error.message);
      assert.equal(events.some((e) => e.type === "state-loaded"), false);
      const after = await kv.get(key);
      assert.deepEqual(after.value, value);
      assert.equal(after.versionstamp, before.versionstamp);
    });
  }
});

// ---------------------------------------------------------------------------
// Through a scheduler: restart and terminal-state deletion
// ---------------------------------------------------------------------------

Deno.test("a second scheduler on the same KV file resumes at triggerCount 2", async () => {
  await withKvFile(async (path) => {
    await withFakeClock(T0, async (clock) => {
      const times = [T0 + 100, T0 + 200, T0 + 300];
      const seen: Array<{ scheduledAt: number; triggerCount: number }> = [];
      let stopFirst: (() => void) | undefined;
      const job = Job.withoutDeps(
        "resume",
        Schedule.atTimes(times),
        Task.fromSync(({ run }) => {
          seen.push({
            scheduledAt: run.scheduledAt.getTime(),
            triggerCount: run.triggerCount,
          });
          stopFirst?.();
        }),
      );

      // Each scheduler opens the file itself; the KV calls are tracked so
      // that the fake clock moves only once they have answered (real I/O).
      const io = new KvIo();
      const kv1 = await Deno.openKv(path);
      const store1 = new DenoKvStateStore(trackKv(kv1, io));
      let report1;
      try {
        const first = new Scheduler({}, store1);
        stopFirst = () => first.handle().shutdown();
        report1 = await drive(clock, first.run(job), io);
        assert.deepEqual(await store1.load("resume"), report1.state);
      } finally {
        kv1.close();
      }
      assert.equal(report1.stopReason, "shutdown");
      assert.equal(report1.state.triggerCount, 1);
      assert.equal(report1.state.nextRunAt?.getTime(), T0 + 200);
      assert.deepEqual(seen, [{ scheduledAt: T0 + 100, triggerCount: 1 }]);

      stopFirst = undefined;
      const kv2 = await Deno.openKv(path);
      const store2 = new DenoKvStateStore(trackKv(kv2, io));
      try {
        const second = new Scheduler({}, store2);
        const events = recordEvents(second);
        const report2 = await drive(clock, second.run(job), io);
        const loaded = events.find((e) => e.type === "state-loaded");
        assert.equal(loaded?.type, "state-loaded");
        assert.equal(loaded.source, "restored");
        assert.equal(loaded.triggerCount, 1);
        assert.equal(loaded.nextRunAt?.getTime(), T0 + 200);
        assert.equal(report2.stopReason, "terminal");
        assert.deepEqual(
          report2.history.map((r) => [r.scheduledAt.getTime(), r.triggerCount]),
          [[T0 + 200, 2], [T0 + 300, 3]],
        );
        assert.equal(report2.state.triggerCount, 3);
        assert.equal(report2.state.nextRunAt, null);
        assert.deepEqual(await store2.load("resume"), report2.state);
      } finally {
        kv2.close();
      }
      assert.deepEqual(seen, [
        { scheduledAt: T0 + 100, triggerCount: 1 },
        { scheduledAt: T0 + 200, triggerCount: 2 },
        { scheduledAt: T0 + 300, triggerCount: 3 },
      ]);
    });
  });
});

Deno.test("terminalStatePolicy delete removes the key from KV", async () => {
  await withKv(async (rawKv) => {
    await withFakeClock(T0, async (clock) => {
      const io = new KvIo();
      const kv = trackKv(rawKv, io);
      const store = new DenoKvStateStore(kv);
      const key = [...DEFAULT_PREFIX, "delete-at-end"];
      let storedDuringRun: unknown;
      const job = Job.withoutDeps(
        "delete-at-end",
        Schedule.atTimes([T0 + 50, T0 + 60]),
        Task.fromAsync(async () => {
          storedDuringRun = (await kv.get(key)).value;
        }),
      );
      const scheduler = new Scheduler({ terminalStatePolicy: "delete" }, store);
      const events: SchedulerEvent[] = recordEvents(scheduler);
      const report = await drive(clock, scheduler.run(job), io);
      assert.equal(typeof storedDuringRun, "string", "stored while running");
      assert.equal(report.stopReason, "terminal");
      assert.equal(report.state.triggerCount, 2);
      assert.equal(report.history.length, 2);
      assert.equal((await kv.get(key)).value, null);
      assert.equal(await store.load("delete-at-end"), undefined);
      const deleted = events.find((e) => e.type === "terminal-state-deleted");
      assert.equal(deleted?.type, "terminal-state-deleted");
      assert.equal(deleted.triggerCount, 2);
    });
  });
});

Deno.test("terminalStatePolicy retain (default) keeps the final state in KV", async () => {
  await withKv(async (rawKv) => {
    await withFakeClock(T0, async (clock) => {
      const io = new KvIo();
      const kv = trackKv(rawKv, io);
      const store = new DenoKvStateStore(kv);
      const job = Job.withoutDeps(
        "retain-at-end",
        Schedule.atTimes([T0 + 50]),
        Task.fromSync(() => {}),
      );
      const report = await drive(
        clock,
        new Scheduler({}, store).run(job),
        io,
      );
      assert.equal(report.stopReason, "terminal");
      const entry = await kv.get<string>([...DEFAULT_PREFIX, "retain-at-end"]);
      assert.deepEqual(JSON.parse(entry.value!), {
        job_id: "retain-at-end",
        trigger_count: 1,
        last_run_at: "2026-04-03T01:02:03.050Z",
        last_success_at: "2026-04-03T01:02:03.050Z",
        next_run_at: null,
        last_error: null,
        // Added by the scheduler; serde ignores it.
        definition_fingerprint: "v1 at-times n=1 h=38e9ad804c0ccefa max=-",
      });
    });
  });
});

// ---------------------------------------------------------------------------
// Ownership, close, construction
// ---------------------------------------------------------------------------

Deno.test("DenoKvStateStore.open owns its KV: close() closes it and a later load fails", async () => {
  const store = await DenoKvStateStore.open(":memory:");
  try {
    await store.save(state({ jobId: "owned", triggerCount: 1 }));
    assert.equal((await store.load("owned"))?.triggerCount, 1);
  } finally {
    store.close();
  }
  await assertStoreError(store.load("owned"), {
    kind: "connection",
    operation: "load",
    includes: "owned",
  });
  store.close(); // twice is fine
});

Deno.test("DenoKvStateStore.open on a file persists across close and reopen", async () => {
  await withKvFile(async (path) => {
    const first = await DenoKvStateStore.open(path);
    try {
      await first.save(fullState("persisted"));
    } finally {
      first.close();
    }
    const second = await DenoKvStateStore.open(path);
    try {
      assert.deepEqual(await second.load("persisted"), fullState("persisted"));
    } finally {
      second.close();
    }
  });
});

Deno.test("DenoKvStateStore built on a given KV leaves it open on close()", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvStateStore(kv);
    await store.save(state({ jobId: "borrowed", triggerCount: 2 }));
    store.close();
    store.close();
    // The KV is still usable, through the raw handle and through the store.
    assert.equal(
      typeof (await kv.get([...DEFAULT_PREFIX, "borrowed"])).value,
      "string",
    );
    assert.equal((await store.load("borrowed"))?.triggerCount, 2);
  });
});

Deno.test("DenoKvStateStore rejects a value that is not a Deno.Kv", () => {
  for (
    const bad of [
      undefined,
      null,
      42,
      "kv",
      {},
      { get() {} },
      new InMemoryStateStore(),
    ]
  ) {
    assert.throws(
      () => new DenoKvStateStore(bad as unknown as Deno.Kv),
      (error: unknown) =>
        error instanceof InvalidJobError && error.kind === "other",
      `accepted ${String(bad)}`,
    );
  }
});

Deno.test("DenoKvStateStore rejects an invalid keyPrefix", async () => {
  await withKv(async (kv) => {
    const bads: unknown[] = [
      "scheduler",
      42,
      [{}],
      [null],
      [undefined],
      [["nested"]],
      [Symbol("s")],
    ];
    for (const [index, bad] of bads.entries()) {
      assert.throws(
        () =>
          new DenoKvStateStore(kv, {
            keyPrefix: bad as unknown as Deno.KvKey,
          }),
        (error: unknown) =>
          error instanceof InvalidJobError && error.kind === "other",
        `accepted invalid keyPrefix #${index}`,
      );
    }
    // Valid key parts of every type are accepted.
    const store = new DenoKvStateStore(kv, {
      keyPrefix: ["s", 1, 2n, true, new Uint8Array([1])],
    });
    await store.save(state({ jobId: "typed", triggerCount: 1 }));
    assert.equal(
      typeof (await kv.get(["s", 1, 2n, true, new Uint8Array([1]), "typed"]))
        .value,
      "string",
    );
  });
});

Deno.test("DenoKvStateStore.open rejects an invalid keyPrefix without leaking a KV", async () => {
  let caught: unknown;
  try {
    const store = await DenoKvStateStore.open(":memory:", {
      keyPrefix: "bad" as unknown as Deno.KvKey,
    });
    store.close();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InvalidJobError, String(caught));
  assert.equal(caught.kind, "other");
});

// ---------------------------------------------------------------------------
// A closed KV
// ---------------------------------------------------------------------------

Deno.test("DenoKvStateStore on a closed KV fails with connection StoreErrors", async () => {
  const kv = await Deno.openKv(":memory:");
  const store = new DenoKvStateStore(kv);
  await store.save(state({ jobId: "closed", triggerCount: 1 }));
  kv.close();
  await assertStoreError(store.load("closed"), {
    kind: "connection",
    operation: "load",
    includes: "closed",
  });
  await assertStoreError(
    store.save(state({ jobId: "closed", triggerCount: 2 })),
    { kind: "connection", operation: "save", includes: "closed" },
  );
  await assertStoreError(store.delete("closed"), {
    kind: "connection",
    operation: "delete",
    includes: "closed",
  });
});

Deno.test("Scheduler.run on a closed KV rejects with a connection StoreError", async () => {
  const store = await DenoKvStateStore.open(":memory:");
  store.close();
  const scheduler = new Scheduler({}, store);
  const events = recordEvents(scheduler);
  const job = Job.withoutDeps(
    "closed-run",
    Schedule.atTimes([Date.now() + 10]),
    Task.fromSync(() => {}),
  );
  const error = await assertStoreError(scheduler.run(job), {
    kind: "connection",
  });
  const stopped = events.at(-1);
  assert.equal(stopped?.type, "scheduler-stopped");
  assert.equal(stopped.reason, "failed");
  assert.equal(stopped.error, error.message);
});

Deno.test("DenoKvStateStore: a null keyPrefix is refused, not replaced by the default", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    assert.throws(
      () =>
        new DenoKvStateStore(kv, { keyPrefix: null as unknown as Deno.KvKey }),
      (error: unknown) =>
        error instanceof InvalidJobError && error.kind === "other" &&
        error.message.includes("keyPrefix") && error.message.includes("null"),
    );
  } finally {
    kv.close();
  }
});
