/**
 * What a run costs, counted: no `DOMException` is built on any steady path
 * (a plain run, a time limit, retries, at-least-once on the default
 * single-instance guard, where it is switched off since nothing could be
 * reclaimed, and at-least-once and at-most-once on the Deno KV guard over
 * `Deno.openKv(":memory:")`), and the time limits of one job share one
 * timer, which still fires each attempt's limit at its own instant.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  InMemoryStateStore,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { delay, settle, T0 } from "./_engine_helpers.ts";

/**
 * Counts what builds a DOMException: `new DOMException`, and aborting a
 * controller without a reason (which builds one inside the runtime, through
 * the global class or not, depending on the runtime). Either counts.
 */
async function countDomExceptions(
  body: () => Promise<void>,
): Promise<{ constructed: number; abortsWithoutReason: number }> {
  const Original = globalThis.DOMException;
  const abort = AbortController.prototype.abort;
  let constructed = 0;
  let abortsWithoutReason = 0;
  globalThis.DOMException = class extends Original {
    constructor(message?: string, name?: string) {
      super(message, name);
      constructed++;
    }
  };
  AbortController.prototype.abort = function (reason?: unknown) {
    if (reason === undefined) abortsWithoutReason++;
    return abort.call(this, reason);
  };
  try {
    await body();
  } finally {
    globalThis.DOMException = Original;
    AbortController.prototype.abort = abort;
  }
  return { constructed, abortsWithoutReason };
}

/**
 * Replays a backlog of `runs` due occurrences with the given controls, on
 * the default guard or, with `kv`, on a Deno KV guard over `:memory:`.
 */
async function replay(
  runs: number,
  decorate: (job: Job) => Job,
  kv?: Deno.Kv,
) {
  const store = new InMemoryStateStore();
  await store.save({
    jobId: "backlog",
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(Date.now() - runs),
    lastError: null,
  });
  const job = decorate(
    Job.withoutDeps(
      "backlog",
      Schedule.interval(1),
      Task.fromAsync(async ({ signal }) => {
        await Promise.resolve(signal.aborted);
      }),
    ).withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(runs),
  );
  let records = 0;
  let scheduler = new Scheduler({}, store);
  if (kv !== undefined) {
    const guard = new DenoKvExecutionGuard(kv, {
      ttlMs: 60_000,
      renewIntervalMs: 20_000,
    });
    // Counts the grants that write an in-flight record.
    const ledger = guard.inFlight;
    const acquire = ledger.acquire.bind(ledger);
    ledger.acquire = (slot) => (records++, acquire(slot));
    scheduler = Scheduler.withExecutionGuard({}, store, guard);
  }
  let recorded = 0;
  scheduler.addEventListener("run-started", () => void recorded++);
  const report = await scheduler.run(job);
  assert.equal(report.state.triggerCount, runs);
  assert.equal(recorded, runs, "every occurrence was granted and ran");
  // On a guard with a ledger both deliveries write the record with the grant
  // (at-most-once to report a dead holder's loss, docs/recovery.md).
  assert.equal(
    records,
    kv !== undefined ? runs : 0,
    "in-flight records written",
  );
  assert.ok(report.history.every((record) => record.status === "success"));
}

const CONTROLS: [string, (job: Job) => Job, boolean][] = [
  ["no controls", (job) => job, false],
  ["withRunTimeout", (job) => job.withRunTimeout(60_000), false],
  [
    "withRetry",
    (job) => job.withRetry({ attempts: 3, backoffMs: [1] }),
    false,
  ],
  [
    "at-least-once, default in-memory guard",
    (job) => job.withDelivery("at-least-once"),
    false,
  ],
  ["at-most-once, Deno KV guard (:memory:)", (job) => job, true],
  [
    "at-least-once, Deno KV guard (:memory:)",
    (job) => job.withDelivery("at-least-once"),
    true,
  ],
];

for (const [name, decorate, onKv] of CONTROLS) {
  Deno.test(`no DOMException is built while replaying 200 runs: ${name}`, async () => {
    const kv = onKv ? await Deno.openKv(":memory:") : undefined;
    try {
      assert.deepEqual(
        await countDomExceptions(() => replay(200, decorate, kv)),
        { constructed: 0, abortsWithoutReason: 0 },
      );
    } finally {
      kv?.close();
    }
  });
}

Deno.test("the counter sees an abort without a reason and a new DOMException", async () => {
  const counts = await countDomExceptions(() => {
    new AbortController().abort();
    new DOMException("x", "TimeoutError");
    return Promise.resolve();
  });
  assert.equal(counts.abortsWithoutReason, 1);
  assert.ok(counts.constructed >= 1);
});

Deno.test("time limits share one timer: an attempt after a quick one still times out at its own limit", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const timedOutAt: number[] = [];
    scheduler.addEventListener("run-timed-out", () => {
      timedOutAt.push(Date.now());
    });
    const durations = [10, 500, 20, 500];
    let index = 0;
    const job = Job.withoutDeps(
      "limits",
      Schedule.atTimes([T0 + 1_000, T0 + 1_050, T0 + 2_000, T0 + 2_030]),
      Task.fromAsync(async () => {
        await delay(durations[index++]);
      }),
    ).withRunTimeout(100);
    const report = await settle(clock, scheduler.run(job));
    // The second run started at 1 050 (after the first took 10 ms) and the
    // fourth at 2 030, each timed out 100 ms after its own start, although
    // the shared timer was armed for the quick run before it.
    assert.deepEqual(timedOutAt, [T0 + 1_150, T0 + 2_130]);
    assert.deepEqual(
      report.history.map((record) => record.status),
      ["success", "timed-out", "success", "timed-out"],
    );
    assert.equal(clock.countTimers(), 0, "no timer left after run()");
  });
});
