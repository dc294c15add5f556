/**
 * Stored data that does not decode is a `StoreError` kind `data` naming the
 * field (never a silent terminal stop); every store checks `save()` input
 * and job ids itself; ids that are not well-formed Unicode are refused; an
 * over-long id gets a short message.
 */
import assert from "node:assert/strict";
import {
  DenoKvStateStore,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  type JobState,
  ResilientStateStore,
  Schedule,
  Scheduler,
  type StateStore,
  StoreError,
  Task,
} from "../mod.ts";
import { ValkeyStateStore } from "../src/valkey/mod.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const valid: JobState = {
  jobId: "job",
  triggerCount: 1,
  lastRunAt: null,
  lastSuccessAt: null,
  nextRunAt: new Date("2026-04-03T01:02:03Z"),
  lastError: null,
};

async function rejection(promise: () => Promise<unknown>): Promise<unknown> {
  try {
    await promise();
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

async function assertInvalidInput(
  call: () => Promise<unknown>,
  fragment: string,
): Promise<void> {
  const error = await rejection(call);
  assert.ok(error instanceof InvalidJobError, String(error));
  assert.equal(error.kind, "other");
  assert.ok(
    error.message.includes(fragment),
    `${JSON.stringify(error.message)} should include ${fragment}`,
  );
}

/** Every store refuses bad ids and bad states, and writes nothing. */
async function checkStoreInput(store: StateStore): Promise<void> {
  await assertInvalidInput(
    () => store.save({ ...valid, jobId: null } as Any),
    "jobId",
  );
  await assertInvalidInput(
    () => store.save({ ...valid, triggerCount: -1 }),
    "triggerCount",
  );
  await assertInvalidInput(
    () => store.save({ ...valid, nextRunAt: "soon" } as Any),
    "nextRunAt",
  );
  await assertInvalidInput(() => store.save(null as Any), "expected an object");
  await assertInvalidInput(
    () => store.save({ ...valid, jobId: "a\uD800" }),
    "well-formed",
  );
  await assertInvalidInput(() => store.load(null as Any), "non-empty string");
  await assertInvalidInput(() => store.load(""), "non-empty string");
  await assertInvalidInput(() => store.delete(42 as Any), "non-empty string");
  await assertInvalidInput(() => store.delete("\uDC00"), "well-formed");
  assert.equal(
    await store.load("null"),
    undefined,
    "nothing stored under null",
  );
  await store.save(valid);
  assert.equal((await store.load("job"))?.triggerCount, 1);
}

Deno.test("the in-memory and resilient stores check save() input and job ids", async () => {
  await checkStoreInput(new InMemoryStateStore());
  await checkStoreInput(new ResilientStateStore(new InMemoryStateStore()));
});

Deno.test("the Deno KV store checks save() input and job ids", async () => {
  const store = await DenoKvStateStore.open(":memory:");
  try {
    await checkStoreInput(store);
  } finally {
    store.close();
  }
});

Deno.test({
  name: "the Valkey store checks save() input and job ids",
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer(async (server) => {
      const store = await ValkeyStateStore.connect(server.url);
      try {
        await checkStoreInput(store);
      } finally {
        await store.close();
      }
    }),
});

Deno.test("job ids that are not well-formed Unicode are refused, so lone surrogates cannot collide", () => {
  const task = Task.fromSync(() => {});
  for (const id of ["\uD800", "\uDBFF", "x\uDC00y"]) {
    assert.throws(
      () => Job.withoutDeps(id, Schedule.interval(1000), task),
      (error: unknown) =>
        error instanceof InvalidJobError && /well-formed/.test(error.message),
    );
  }
  // A proper surrogate pair is fine.
  assert.equal(
    Job.withoutDeps("\uD83D\uDE00", Schedule.interval(1000), task).jobId,
    "😀",
  );
});

Deno.test("a 10 KB job id is kind other with a shortened message", async () => {
  const id = "x".repeat(10_240);
  const check = (error: unknown) => {
    assert.ok(error instanceof InvalidJobError);
    assert.equal(error.kind, "other");
    assert.ok(
      error.message.length < 200,
      `message of ${error.message.length} characters`,
    );
    assert.match(error.message, /at most 512 characters, got 10240/);
    return true;
  };
  assert.throws(
    () => Job.withoutDeps(id, Schedule.interval(1000), Task.fromSync(() => {})),
    check,
  );
  check(await rejection(() => new InMemoryStateStore().load(id)));
});

/** A Deno KV store holding `json` for job "job"; the run must fail with a data error naming `field`. */
async function assertUndecodable(
  json: Record<string, unknown>,
  field: string,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(["scheduler", "job-state", "job"], JSON.stringify(json));
    let runs = 0;
    const job = Job.withoutDeps(
      "job",
      Schedule.interval(5),
      Task.fromSync(() => void runs++),
    )
      .withMaxRuns(1);
    const error = await rejection(() =>
      new Scheduler({}, new DenoKvStateStore(kv)).run(job)
    );
    assert.ok(error instanceof StoreError, String(error));
    assert.equal(error.kind, "data");
    assert.equal(error.operation, "load");
    assert.ok(
      error.message.includes(field),
      `${error.message} should name ${field}`,
    );
    assert.ok(error.message.includes('"job"'), "names the job id");
    assert.equal(runs, 0);
    // Nothing was replaced.
    assert.deepEqual(
      JSON.parse(
        (await kv.get<string>(["scheduler", "job-state", "job"])).value!,
      ),
      json,
    );
  } finally {
    kv.close();
  }
}

Deno.test("a stored state without next_run_at is a data error, not a silent terminal stop", async () => {
  await assertUndecodable({ job_id: "job", trigger_count: 3 }, "next_run_at");
});

Deno.test("a stored state with camelCase keys is a data error naming the key", async () => {
  await assertUndecodable(
    { jobId: "job", triggerCount: 3, nextRunAt: "2026-04-03T01:02:03Z" },
    "job_id is missing but jobId is present",
  );
  await assertUndecodable(
    { job_id: "job", trigger_count: 3, next_run_at: null, lastError: "x" },
    "last_error is missing but lastError is present",
  );
  // A misnamed fingerprint would silently skip reconciliation.
  await assertUndecodable(
    {
      job_id: "job",
      trigger_count: 3,
      next_run_at: null,
      definitionFingerprint: "v1 interval 1000 max=-",
    },
    "definition_fingerprint is missing but definitionFingerprint is present",
  );
});

Deno.test("a stored negative trigger count is a data error naming the key", async () => {
  await assertUndecodable(
    { job_id: "job", trigger_count: -1, next_run_at: "2026-04-03T01:02:03Z" },
    "trigger_count",
  );
  // A custom store that hands back a negative count is refused the same way.
  const custom: StateStore = {
    load: () => Promise.resolve({ ...valid, triggerCount: -1 }),
    save: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  };
  const job = Job.withoutDeps(
    "job",
    Schedule.interval(5),
    Task.fromSync(() => {}),
  );
  const error = await rejection(() => new Scheduler({}, custom).run(job));
  assert.ok(
    error instanceof StoreError && error.kind === "data",
    String(error),
  );
  assert.match(error.message, /triggerCount -1/);
});

Deno.test("a stored trigger count that cannot count further is a data error naming it, and nothing is saved", async () => {
  const max = Number.MAX_SAFE_INTEGER;
  // At the limit, and a few below it with more missed occurrences than room.
  for (const [count, overdueMs] of [[max, 0], [max - 2, 50]]) {
    const json = {
      job_id: "job",
      trigger_count: count,
      last_run_at: null,
      last_success_at: null,
      next_run_at: new Date(Date.now() - overdueMs - 1).toISOString(),
      last_error: null,
    };
    const kv = await Deno.openKv(":memory:");
    try {
      await kv.set(["scheduler", "job-state", "job"], JSON.stringify(json));
      let runs = 0;
      const job = Job.withoutDeps(
        "job",
        Schedule.interval(10),
        Task.fromSync(() => void runs++),
      );
      const error = await rejection(() =>
        new Scheduler({}, new DenoKvStateStore(kv)).run(job)
      );
      assert.ok(error instanceof StoreError, String(error));
      assert.equal(error.kind, "data", error.message);
      assert.equal(error.operation, "load");
      assert.ok(error.message.includes(`${count}`), error.message);
      assert.ok(error.message.includes('"job"'), "names the job id");
      assert.equal(runs, 0);
      assert.deepEqual(
        JSON.parse(
          (await kv.get<string>(["scheduler", "job-state", "job"])).value!,
        ),
        json,
        "the stored state is left as it was",
      );
    } finally {
      kv.close();
    }
  }
});
