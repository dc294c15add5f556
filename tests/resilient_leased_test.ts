/**
 * A `ResilientStateStore` around a `DenoKvStateStore` keeps the single
 * commit before and after each run when the guard is on the same `Deno.Kv`
 * (counted on a real `:memory:` KV behind bench/_kv_counting.ts), mirrors
 * what it saved, and meets an outage mid-way as the separate calls do: the
 * same events, the same rejection of `run()`, the same runs and the same
 * state served from the mirror. The separate path is the same guard behind
 * a plain object (bench/_kv_paths.ts).
 */
import assert from "node:assert/strict";
import {
  canWriteLeased,
  type Delivery,
  DenoKvExecutionGuard,
  DenoKvStateStore,
  type ExecutionGuard,
  ExecutionGuardError,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  type JobState,
  MissedRunPolicy,
  ResilientStateStore,
  type SaveAndAcquire,
  type SaveAndEnd,
  Schedule,
  Scheduler,
  StoreError,
  Task,
} from "../mod.ts";
import { countingKv, isCommit, KvCounts } from "../bench/_kv_counting.ts";
import { type KvPath, onPath } from "../bench/_kv_paths.ts";

const LEASE = { ttlMs: 60_000, renewIntervalMs: 20_000 };
const RUNS = 30;

function seed(runs: number) {
  return {
    jobId: "wrapped",
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(Date.now() - runs),
    lastError: null,
  };
}

function backlogJob(
  delivery: Delivery,
  runs: number,
  task: () => void,
): Job<undefined> {
  return Job.withoutDeps("wrapped", Schedule.interval(1), Task.fromSync(task))
    .withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(runs)
    .withDelivery(delivery);
}

for (const delivery of ["at-most-once", "at-least-once"] as const) {
  Deno.test(`ResilientStateStore around a Deno KV store, ${delivery}: 2 commits per run, as without it; the mirror holds what was saved`, async () => {
    const raw = await Deno.openKv(":memory:");
    try {
      await new DenoKvStateStore(raw).save(seed(RUNS));
      const counts = new KvCounts();
      const kv = countingKv(raw, counts);
      const guard = new DenoKvExecutionGuard(kv, LEASE);
      const store = new ResilientStateStore(new DenoKvStateStore(kv));
      assert.ok(canWriteLeased(store, guard));
      let ran = 0;
      const report = await Scheduler.withExecutionGuard({}, store, guard)
        .run(backlogJob(delivery, RUNS, () => void ran++));
      assert.equal(ran, RUNS);
      assert.equal(counts.total(isCommit), 2 * RUNS);
      assert.equal(report.state.triggerCount, RUNS);
      // What the single commits saved is mirrored: served while degraded.
      raw.close();
      const mirrored = await store.load("wrapped");
      assert.equal(store.degraded, true);
      assert.equal(mirrored?.triggerCount, RUNS);
      assert.equal(
        mirrored?.lastSuccessAt?.getTime(),
        report.state.lastSuccessAt?.getTime(),
      );
    } finally {
      try {
        raw.close();
      } catch { /* closed above */ }
    }
  });
}

Deno.test("ResilientStateStore: sharesWith follows its primary; a leased write for a guard the primary does not share is bad input", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const other = await Deno.openKv(":memory:");
    const apart = new DenoKvExecutionGuard(other, LEASE);
    other.close();
    assert.equal(
      new ResilientStateStore(new DenoKvStateStore(kv)).sharesWith(guard),
      true,
    );
    assert.equal(
      new ResilientStateStore(new DenoKvStateStore(kv)).sharesWith(apart),
      false,
    );
    const inMemory = new ResilientStateStore(new InMemoryStateStore());
    assert.equal(inMemory.sharesWith(guard), false);
    assert.equal(canWriteLeased(inMemory, guard), false);
    await assert.rejects(
      () =>
        inMemory.saveAndAcquire({
          guard,
          state: seed(1),
          slot: { jobId: "wrapped", scheduledAt: new Date(0) },
          record: false,
        }),
      (error: Error) =>
        error instanceof InvalidJobError &&
        error.message.includes("sharesWith"),
    );
  } finally {
    kv.close();
  }
});

interface Outcome {
  ran: number;
  events: string[];
  rejection: string;
  mirrored: number | undefined;
  degraded: boolean;
}

/**
 * A backlog whose database is closed during run `failAt` (a connection
 * failure every later call meets), behind a resilient store, on `path`.
 */
async function outage(
  delivery: Delivery,
  path: KvPath,
  failAt: number,
): Promise<Outcome> {
  const kv = await Deno.openKv(":memory:");
  await new DenoKvStateStore(kv).save(seed(10));
  const guard = new DenoKvExecutionGuard(kv, LEASE);
  const store = new ResilientStateStore(
    new DenoKvStateStore(kv, { retryBudgetMs: 0 }),
  );
  const events: string[] = [];
  store.addEventListener("store-degraded", () => events.push("store-degraded"));
  const scheduler = Scheduler.withExecutionGuard(
    {},
    store,
    onPath(guard, path),
  );
  for (
    const type of [
      "execution-guard-release-failed",
      "execution-guard-acquire-failed",
      "run-completed",
    ] as const
  ) {
    scheduler.addEventListener(type, () => events.push(type));
  }
  let ran = 0;
  const job = backlogJob(delivery, 10, () => {
    if (++ran === failAt) kv.close();
  });
  const rejection = await scheduler.run(job).then(
    () => "resolved",
    (error: Error) =>
      error instanceof ExecutionGuardError
        ? `ExecutionGuardError ${error.kind}`
        : `${error.name} ${(error as { kind?: string }).kind}`,
  );
  const mirrored = (await store.load("wrapped"))?.triggerCount;
  return { ran, events, rejection, mirrored, degraded: store.degraded };
}

for (const delivery of ["at-most-once", "at-least-once"] as const) {
  Deno.test(`ResilientStateStore around a Deno KV store, ${delivery}: the database lost mid-way behaves as on the separate calls`, async () => {
    const separate = await outage(delivery, "separate", 3);
    const single = await outage(delivery, "single commit", 3);
    // The one write that failed is reported by both: the store first on the
    // single commit (it learns of the outage), the guard first on the
    // separate calls (the lease ends before the save); the same reports.
    const sorted = (outcome: Outcome) => ({
      ...outcome,
      events: outcome.events.toSorted(),
    });
    assert.deepEqual(sorted(single), sorted(separate));
    // What that is: the run's record kept in the mirror, its lease's end
    // reported failed, and the next grant fails run() with the guard's
    // outage.
    assert.equal(single.rejection, "ExecutionGuardError connection");
    assert.equal(single.ran, 3);
    assert.equal(single.mirrored, 3);
    assert.equal(single.degraded, true);
    assert.ok(single.events.includes("store-degraded"));
    assert.ok(single.events.includes("execution-guard-release-failed"));
  });
}

Deno.test("ResilientStateStore leased writes while the primary is down: a grant saves nothing and fails with the guard's outage, an end is kept in the mirror (unconfirmed), and the next grant asks the primary at once and writes the mirror back", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const inner = new DenoKvStateStore(kv);
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    let down = false;
    const outage = () => new StoreError("down", { kind: "connection" });
    const primary = {
      load: (id: string) => down ? Promise.reject(outage()) : inner.load(id),
      save: (state: JobState) =>
        down ? Promise.reject(outage()) : inner.save(state),
      delete: (id: string) =>
        down ? Promise.reject(outage()) : inner.delete(id),
      sharesWith: (g: ExecutionGuard) => inner.sharesWith(g),
      saveAndAcquire: (request: SaveAndAcquire) =>
        down
          ? Promise.reject(
            new ExecutionGuardError("down", { kind: "connection" }),
          )
          : inner.saveAndAcquire(request),
      saveAndEnd: (request: SaveAndEnd) =>
        down ? Promise.reject(outage()) : inner.saveAndEnd(request),
    };
    const store = new ResilientStateStore(primary, { probeIntervalMs: 60_000 });
    const events: string[] = [];
    for (const type of ["store-degraded", "store-recovered"]) {
      store.addEventListener(type, () => events.push(type));
    }
    const slot = (ms: number) => ({
      jobId: "wrapped",
      scheduledAt: new Date(ms),
    });
    const state = (triggerCount: number) => ({ ...seed(0), triggerCount });
    const first = await store.saveAndAcquire({
      guard,
      state: state(1),
      slot: slot(1),
      record: false,
    });
    assert.equal(first.kind, "acquired");
    assert.equal((await inner.load("wrapped"))?.triggerCount, 1);

    down = true;
    await assert.rejects(
      () =>
        store.saveAndAcquire({
          guard,
          state: state(2),
          slot: slot(2),
          record: false,
        }),
      (error: Error) =>
        error instanceof ExecutionGuardError && error.kind === "connection",
    );
    assert.deepEqual(events, ["store-degraded"]);
    // Nothing saved: the mirror still has what the primary last saved.
    assert.equal((await store.load("wrapped"))?.triggerCount, 1);
    if (first.kind !== "acquired") throw new Error("not granted");
    await assert.rejects(
      () =>
        store.saveAndEnd({
          guard,
          state: state(3),
          lease: first.lease,
          end: "release",
        }),
      (error: Error) =>
        error instanceof ExecutionGuardError && error.kind === "connection" &&
        error.message.includes("unconfirmed"),
    );
    // Saved in the mirror as a save is, to be written back.
    assert.equal((await store.load("wrapped"))?.triggerCount, 3);
    assert.equal((await inner.load("wrapped"))?.triggerCount, 1);

    // Back within the probe interval: a grant asks the primary at once, as
    // the guard would be asked, after writing the mirror back.
    down = false;
    const next = await store.saveAndAcquire({
      guard,
      state: state(4),
      slot: slot(4),
      record: false,
    });
    assert.equal(next.kind, "acquired");
    assert.deepEqual(events, ["store-degraded", "store-recovered"]);
    assert.equal(store.degraded, false);
    assert.equal((await inner.load("wrapped"))?.triggerCount, 4);
  } finally {
    kv.close();
  }
});
