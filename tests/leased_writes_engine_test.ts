/**
 * The engine's side of `LeasedStateWrites` (src/store/leased_writes.ts):
 * when the store offers it for the guard, a run takes one write before it
 * (`saveAndAcquire`) and one after (`saveAndEnd`), and nothing else, under
 * both deliveries; a store that does not offer it keeps the plain calls.
 * The store here does each write as two real calls on an in-memory store
 * and a Deno KV guard, so that it counts what the engine asks for; the
 * atomic implementations are tested on their backends
 * (tests/valkey_two_trips_test.ts).
 */
import assert from "node:assert/strict";
import {
  type Delivery,
  DenoKvExecutionGuard,
  type ExecutionGuard,
  ExecutionGuardError,
  type ExecutionLease,
  type InFlightSlot,
  InMemoryStateStore,
  Job,
  type JobState,
  type LeasedAcquire,
  type LeasedStateWrites,
  type SaveAndAcquire,
  type SaveAndEnd,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { delay, recordEvents } from "./_engine_helpers.ts";

const LEASE = { ttlMs: 400, renewIntervalMs: 100 };

/** Counts what the engine asks of it. */
class TwoCallLeasedStore extends InMemoryStateStore
  implements LeasedStateWrites {
  readonly calls: string[] = [];
  readonly ends: SaveAndEnd["end"][] = [];
  /** Makes the next grants fail with this error, once each. */
  readonly failGrants: Error[] = [];
  /** Called as each grant is being answered. */
  onGrant: () => void = () => {};

  /**
   * @param guard the guard it shares with (as the scheduler holds it)
   * @param raw the guard it writes through (uncounted)
   */
  constructor(
    readonly guard: ExecutionGuard,
    readonly raw: DenoKvExecutionGuard,
  ) {
    super();
  }

  override save(state: JobState): Promise<void> {
    this.calls.push("save");
    return super.save(state);
  }

  sharesWith(guard: ExecutionGuard): boolean {
    return guard === this.guard;
  }

  async saveAndAcquire(request: SaveAndAcquire): Promise<LeasedAcquire> {
    this.calls.push("saveAndAcquire");
    assert.equal(request.guard, this.guard, "the guard it shares with");
    const failure = this.failGrants.shift();
    if (failure !== undefined) throw failure;
    await super.save(request.state);
    const slot = request.slot as InFlightSlot;
    this.onGrant();
    if (!request.record) return await this.raw.acquire(slot);
    const answer = await this.raw.inFlight.acquire(slot);
    // Counted as the Valkey store's grant counts them.
    const records = await this.raw.inFlight.list(slot.jobId);
    return { ...answer, inFlight: records.length };
  }

  async saveAndEnd(request: SaveAndEnd): Promise<void> {
    this.calls.push("saveAndEnd");
    assert.equal(request.guard, this.guard, "the guard it shares with");
    this.ends.push(request.end);
    await super.save(request.state);
    const { lease } = request;
    if (request.end === "release") await this.raw.release(lease);
    else if (request.end === "complete") {
      await this.raw.inFlight.complete(lease);
    } else await this.raw.inFlight.abandon(lease);
  }
}

/** `guard` with every call counted into `calls`. */
function countedGuard(
  guard: DenoKvExecutionGuard,
  calls: string[],
): DenoKvExecutionGuard {
  const count = <T>(name: string, call: () => T): T => {
    calls.push(name);
    return call();
  };
  const ledger = guard.inFlight;
  const inFlight = {
    acquire: (slot: InFlightSlot) =>
      count("ledger.acquire", () => ledger.acquire(slot)),
    complete: (lease: ExecutionLease) =>
      count("ledger.complete", () => ledger.complete(lease)),
    abandon: (lease: ExecutionLease) =>
      count("ledger.abandon", () => ledger.abandon(lease)),
    list: (jobId: string) => count("ledger.list", () => ledger.list(jobId)),
    reclaim: (record: Parameters<typeof ledger.reclaim>[0]) =>
      count("ledger.reclaim", () => ledger.reclaim(record)),
  };
  return new Proxy(guard, {
    get(target, property) {
      if (property === "inFlight") return inFlight;
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (["acquire", "release", "renew"].includes(property as string)) {
        return (...args: unknown[]) =>
          count(`guard.${String(property)}`, () => value.apply(target, args));
      }
      return value.bind(target);
    },
  });
}

async function withKv(body: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await body(kv);
  } finally {
    kv.close();
  }
}

function tally(calls: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of calls) counts[call] = (counts[call] ?? 0) + 1;
  return counts;
}

for (const delivery of ["at-most-once", "at-least-once"] as Delivery[]) {
  Deno.test(`leased writes, ${delivery}: each run is one saveAndAcquire and one saveAndEnd, nothing else`, async () => {
    await withKv(async (kv) => {
      const calls: string[] = [];
      const raw = new DenoKvExecutionGuard(kv, LEASE);
      const guard = countedGuard(raw, calls);
      const store = new TwoCallLeasedStore(guard, raw);
      const start = Date.now() + 30;
      const times = [0, 1, 2, 3, 4].map((i) => start + i * 40);
      const ran: number[] = [];
      const report = await Scheduler.withExecutionGuard({}, store, guard).run(
        Job.withoutDeps(
          `counted-${delivery}`,
          Schedule.atTimes(times),
          Task.fromSync(({ run }) => void ran.push(run.scheduledAt.getTime())),
        )
          .withDelivery(delivery)
          // Real time, 40 ms apart: on a loaded machine an occurrence may be
          // late, and each must still run (not be merged into the next).
          .withMissedRunPolicy("replay-all"),
      );
      assert.deepEqual(ran, times);
      assert.equal(report.state.triggerCount, times.length);
      assert.equal(report.state.lastSuccessAt !== null, true);
      const counts = tally([...store.calls, ...calls]);
      // Outside the runs: the looks at the ledger when run() starts and
      // before it ends (a run another instance holds may need us); none
      // before each at-least-once decision.
      assert.deepEqual(counts, {
        saveAndAcquire: times.length,
        saveAndEnd: times.length,
        "ledger.list": 2,
      });
      assert.deepEqual(store.ends, times.map(() => "complete"));
      assert.deepEqual(await guard.inFlight.list(`counted-${delivery}`), []);
    });
  });
}

Deno.test("leased writes: a store that does not share the guard keeps the plain calls", async () => {
  await withKv(async (kv) => {
    const calls: string[] = [];
    const guard = countedGuard(new DenoKvExecutionGuard(kv, LEASE), calls);
    const other = new DenoKvExecutionGuard(kv, LEASE);
    const store = new TwoCallLeasedStore(other, other);
    const at = Date.now() + 30;
    await Scheduler.withExecutionGuard({}, store, guard).run(
      Job.withoutDeps("plain", Schedule.atTimes([at]), Task.fromSync(() => {}))
        .withDelivery("at-least-once"),
    );
    const counts = tally([...store.calls, ...calls]);
    assert.equal(counts.saveAndAcquire, undefined);
    assert.equal(counts.saveAndEnd, undefined);
    assert.equal(counts["ledger.acquire"], 1);
    assert.equal(counts["ledger.complete"], 1);
  });
});

Deno.test("leased writes, at-least-once: a failed grant fails run() and saves nothing", async () => {
  await withKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const store = new TwoCallLeasedStore(guard, guard);
    store.failGrants.push(
      new ExecutionGuardError("connection reset", { kind: "connection" }),
    );
    const at = Date.now() + 30;
    let ran = 0;
    await assert.rejects(
      Scheduler.withExecutionGuard({}, store, guard).run(
        Job.withoutDeps(
          "failed-grant",
          Schedule.atTimes([at, at + 60_000]),
          Task.fromSync(() => void ran++),
        ).withDelivery("at-least-once"),
      ),
      ExecutionGuardError,
    );
    assert.equal(ran, 0);
    const stored = await store.load("failed-grant");
    assert.equal(stored?.triggerCount, 0);
    assert.equal(stored?.nextRunAt?.getTime(), at, "decided again on restart");
  });
});

Deno.test("leased writes: a store failure at the grant fails run() with the StoreError kind of a failed save", async () => {
  await withKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const store = new TwoCallLeasedStore(guard, guard);
    store.failGrants.push(new Error("disk full"));
    const at = Date.now() + 30;
    await assert.rejects(
      Scheduler.withExecutionGuard({}, store, guard).run(
        Job.withoutDeps(
          "store-failure",
          Schedule.atTimes([at]),
          Task.fromSync(() => {}),
        ),
      ),
      (error: Error) =>
        error.name === "StoreError" && /disk full/.test(error.message),
    );
  });
});

Deno.test("leased writes, at-least-once: damaged guard data at the grant is asked again once, then the consumption is saved on its own", async () => {
  await withKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const store = new TwoCallLeasedStore(guard, guard);
    const damaged = () =>
      new ExecutionGuardError("damaged counter", { kind: "data" });
    store.failGrants.push(damaged(), damaged());
    const at = Date.now() + 30;
    let ran = 0;
    const scheduler = Scheduler.withExecutionGuard({}, store, guard);
    const events = recordEvents(scheduler);
    const report = await scheduler.run(
      Job.withoutDeps(
        "damaged-grant",
        Schedule.atTimes([at]),
        Task.fromSync(() => void ran++),
      ).withDelivery("at-least-once"),
    );
    assert.equal(ran, 0);
    assert.equal(report.state.triggerCount, 1);
    assert.equal(report.state.lastError, "damaged counter");
    assert.equal(
      events.filter((e) => e.type === "execution-guard-acquire-failed").length,
      2,
    );
    assert.deepEqual(store.calls, [
      "saveAndAcquire",
      "saveAndAcquire",
      "save",
    ]);
  });
});

Deno.test("leased writes, at-least-once: a cancelled run hands its lease to the record, given back to be replayed by the next run()", async () => {
  await withKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const store = new TwoCallLeasedStore(guard, guard);
    const at = Date.now() + 30;
    const job = (task: Task<undefined>) =>
      Job.withoutDeps("cancelled", Schedule.atTimes([at]), task)
        .withDelivery("at-least-once");
    const firstScheduler = Scheduler.withExecutionGuard({}, store, guard);
    const first = firstScheduler.run(
      job(Task.fromAsync(async ({ signal }) => {
        const aborted = new Promise((resolve) =>
          signal.addEventListener("abort", resolve)
        );
        firstScheduler.handle().cancel();
        await aborted;
        signal.throwIfAborted();
      })),
    );
    assert.equal((await first).history[0]?.status, "cancelled");
    assert.deepEqual(store.ends, ["abandon"]);
    const records = await guard.inFlight.list("cancelled");
    assert.equal(records.length, 1, "the record stays, to be replayed");
    await delay(LEASE.ttlMs + 50);
    const replayed: boolean[] = [];
    const scheduler = Scheduler.withExecutionGuard({}, store, guard);
    await scheduler.run(
      job(
        Task.fromSync(({ run }) => void replayed.push(run.replayed === true)),
      ),
    );
    assert.deepEqual(replayed, [true]);
    assert.deepEqual(await guard.inFlight.list("cancelled"), []);
  });
});

Deno.test("leased writes: a retried run saves its intermediate attempts plainly and its last with the lease's end", async () => {
  await withKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const store = new TwoCallLeasedStore(guard, guard);
    const at = Date.now() + 30;
    let attempts = 0;
    const report = await Scheduler.withExecutionGuard({}, store, guard).run(
      Job.withoutDeps(
        "retried",
        Schedule.atTimes([at]),
        Task.fromSync(() => {
          if (++attempts < 3) throw new Error("not yet");
        }),
      ).withRetry({ attempts: 3, backoffMs: [10, 10] })
        .withDelivery("at-least-once"),
    );
    assert.equal(attempts, 3);
    assert.equal(report.history.length, 3);
    assert.deepEqual(store.calls, [
      "saveAndAcquire",
      "save",
      "save",
      "saveAndEnd",
    ]);
    assert.deepEqual(await guard.inFlight.list("retried"), []);
  });
});

Deno.test("leased writes, at-least-once: a stop during the grant saves the consumption and gives the lease back, for the next run() to replay", async () => {
  await withKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const store = new TwoCallLeasedStore(guard, guard);
    const at = Date.now() + 30;
    const job = (task: Task<undefined>) =>
      Job.withoutDeps("stopped", Schedule.atTimes([at]), task)
        .withDelivery("at-least-once");
    let ran = 0;
    const first = Scheduler.withExecutionGuard({}, store, guard);
    store.onGrant = () => first.handle().shutdown();
    const report = await first.run(job(Task.fromSync(() => void ran++)));
    assert.equal(ran, 0);
    assert.equal(report.state.triggerCount, 1, "the consumption is saved");
    const [record] = await guard.inFlight.list("stopped");
    assert.equal(record?.remainingMs, 0, "its lease was given back");
    store.onGrant = () => {};
    const replayed: boolean[] = [];
    await Scheduler.withExecutionGuard({}, store, guard).run(
      job(
        Task.fromSync(({ run }) => void replayed.push(run.replayed === true)),
      ),
    );
    assert.deepEqual(replayed, [true]);
  });
});
