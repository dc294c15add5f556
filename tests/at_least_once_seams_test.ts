/**
 * At-least-once at the seams between the grant and the save
 * (docs/recovery.md, "No window without a record"): a guard outage at the
 * grant saves nothing, a trigger queued under `queue-one` holds its record
 * before its consumption is saved, and a pause that comes in during the
 * grant queues the occurrence with its lease, to run at resume. Real time,
 * short leases, Deno KV in memory.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  type ExecutionGuard,
  ExecutionGuardError,
  type InFlightLedger,
  InMemoryStateStore,
  Job,
  type JobState,
  OverlapPolicy,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { delay, recordEvents } from "./_engine_helpers.ts";

const LEASE = { ttlMs: 300, renewIntervalMs: 100 };

/** `guard` with its ledger's grant replaced by `acquire`. */
function withLedgerAcquire(
  guard: DenoKvExecutionGuard,
  acquire: (
    slot: Parameters<InFlightLedger["acquire"]>[0],
    ledger: InFlightLedger,
  ) => ReturnType<InFlightLedger["acquire"]>,
): ExecutionGuard {
  const ledger = guard.inFlight;
  return {
    acquire: (slot) => guard.acquire(slot),
    renew: (lease) => guard.renew(lease),
    release: (lease) => guard.release(lease),
    renewIntervalMs: (lease) => guard.renewIntervalMs(lease),
    inFlight: {
      acquire: (slot) => acquire(slot, ledger),
      complete: (lease) => ledger.complete(lease),
      abandon: (lease) => ledger.abandon(lease),
      list: (jobId) => ledger.list(jobId),
      reclaim: (record) => ledger.reclaim(record),
    },
  };
}

/** A store that records every state it saves. */
class SavesStore extends InMemoryStateStore {
  readonly saves: JobState[] = [];
  override save(state: JobState): Promise<void> {
    this.saves.push(structuredClone(state));
    return super.save(state);
  }
}

async function withKv(body: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await body(kv);
  } finally {
    kv.close();
  }
}

Deno.test("at-least-once, a guard outage at the grant: run() fails and the consumed occurrence is not saved", async () => {
  await withKv(async (kv) => {
    const guard = withLedgerAcquire(
      new DenoKvExecutionGuard(kv, LEASE),
      () => Promise.reject(new Error("connection reset")),
    );
    const store = new SavesStore();
    const at = Date.now() + 50;
    let ran = 0;
    const running = Scheduler.withExecutionGuard({}, store, guard).run(
      Job.withoutDeps(
        "outage",
        Schedule.atTimes([at, at + 60_000]),
        Task.fromSync(() => void ran++),
      ).withDelivery("at-least-once"),
    );
    await assert.rejects(running, ExecutionGuardError);
    assert.equal(ran, 0);
    const stored = await store.load("outage");
    assert.ok(
      store.saves.every((state) => state.triggerCount === 0),
      `no saved state consumed the occurrence: ${JSON.stringify(store.saves)}`,
    );
    assert.equal(stored?.nextRunAt?.getTime(), at, "decided again on restart");
  });
});

Deno.test("at-least-once under queue-one: the queued occurrence has its in-flight record before its consumption is saved, and runs", async () => {
  await withKv(async (kv) => {
    const kvGuard = new DenoKvExecutionGuard(kv, LEASE);
    const store = new SavesStore();
    const start = Date.now();
    const first = start + 50;
    const second = start + 100;
    const recordsAtSave: number[][] = [];
    const seen: Promise<void>[] = [];
    const originalSave = store.save.bind(store);
    store.save = (state) => {
      // The moment the queued occurrence's consumption is saved: a SIGKILL
      // here must leave its record in the ledger to be replayed.
      if (state.triggerCount === 2 && state.lastSuccessAt === null) {
        seen.push(
          kvGuard.inFlight.list("queued").then((records) =>
            void recordsAtSave.push(
              records.map((record) => record.scheduledAt.getTime()),
            )
          ),
        );
      }
      return originalSave(state);
    };
    const ran: number[] = [];
    const scheduler = Scheduler.withExecutionGuard({}, store, kvGuard);
    const events = recordEvents(scheduler);
    const report = await scheduler.run(
      Job.withoutDeps(
        "queued",
        Schedule.atTimes([first, second]),
        Task.fromAsync(async ({ run }) => {
          ran.push(run.scheduledAt.getTime());
          if (run.scheduledAt.getTime() === first) await delay(200);
        }),
      ).withOverlapPolicy(OverlapPolicy.QueueOne)
        .withDelivery("at-least-once"),
    );
    await Promise.all(seen);
    assert.ok(recordsAtSave.length > 0, "the queued consumption was saved");
    assert.ok(
      recordsAtSave[0].includes(second),
      `record of the queued occurrence at its save: ${
        JSON.stringify(recordsAtSave)
      }`,
    );
    assert.deepEqual(ran, [first, second]);
    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(
      events.filter((event) => event.type === "run-skipped"),
      [],
    );
    assert.deepEqual(await kvGuard.inFlight.list("queued"), []);
  });
});

Deno.test("at-least-once, a pause during the grant: the occurrence is queued with its lease and runs at resume, not at the next decision", async () => {
  await withKv(async (kv) => {
    const kvGuard = new DenoKvExecutionGuard(kv, LEASE);
    let pauseNow = () => {};
    const guard = withLedgerAcquire(kvGuard, async (slot, ledger) => {
      const answer = await ledger.acquire(slot);
      pauseNow();
      pauseNow = () => {};
      return answer;
    });
    const scheduler = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    );
    const handle = scheduler.handle();
    pauseNow = () => handle.pause();
    const events = recordEvents(scheduler);
    const at = Date.now() + 50;
    const ran: { scheduledAt: number; at: number; replayed: boolean }[] = [];
    const running = scheduler.run(
      Job.withoutDeps(
        "nightly",
        Schedule.atTimes([at, at + 3_600_000]),
        Task.fromSync(({ run }) =>
          void ran.push({
            scheduledAt: run.scheduledAt.getTime(),
            at: Date.now(),
            replayed: run.replayed === true,
          })
        ),
      ).withDelivery("at-least-once"),
    );
    await delay(250);
    assert.equal(ran.length, 0, "nothing runs while paused");
    const resumedAt = Date.now();
    handle.resume();
    const deadline = resumedAt + LEASE.ttlMs + LEASE.renewIntervalMs + 500;
    while (ran.length === 0 && Date.now() < deadline) await delay(10);
    handle.shutdown();
    await running;
    assert.equal(ran.length, 1, "the occurrence ran after resume");
    assert.equal(ran[0].scheduledAt, at);
    assert.ok(ran[0].at - resumedAt <= LEASE.ttlMs + LEASE.renewIntervalMs);
    const emitted = events.filter((event) => event.type === "trigger-emitted");
    assert.equal(emitted.length, 1);
    assert.deepEqual(
      events.filter((event) => event.type === "run-skipped"),
      [],
    );
  });
});

Deno.test("at-least-once under queue-one: a queued occurrence whose lease ran out while it waited is replayed when the run before it ends", async () => {
  await withKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const start = Date.now();
    const first = start + 50;
    const second = start + 100;
    const ran: [number, boolean][] = [];
    const report = await Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    ).run(
      Job.withoutDeps(
        "slow-first",
        Schedule.atTimes([first, second]),
        Task.fromAsync(async ({ run }) => {
          ran.push([run.scheduledAt.getTime(), run.replayed === true]);
          // Longer than the queued occurrence's lease.
          if (run.scheduledAt.getTime() === first) {
            await delay(LEASE.ttlMs * 2);
          }
        }),
      ).withOverlapPolicy(OverlapPolicy.QueueOne)
        .withDelivery("at-least-once"),
    );
    assert.deepEqual(ran, [[first, false], [second, true]]);
    assert.equal(report.stopReason, "terminal");
    assert.deepEqual(await guard.inFlight.list("slow-first"), []);
  });
});

Deno.test("at-least-once under queue-one: a stop gives the queued occurrence's lease back, and the next run() replays it", async () => {
  await withKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const store = new InMemoryStateStore();
    const start = Date.now();
    const first = start + 50;
    const second = start + 100;
    const ran: [number, boolean][] = [];
    const job = Job.withoutDeps(
      "stopped",
      Schedule.atTimes([first, second]),
      Task.fromAsync(async ({ run }) => {
        ran.push([run.scheduledAt.getTime(), run.replayed === true]);
        if (run.scheduledAt.getTime() === first) await delay(150);
      }),
    ).withOverlapPolicy(OverlapPolicy.QueueOne).withDelivery("at-least-once");
    const scheduler = Scheduler.withExecutionGuard({}, store, guard);
    scheduler.addEventListener("trigger-emitted", (event) => {
      if (event.detail.scheduledAt.getTime() === second) {
        scheduler.handle().shutdown();
      }
    });
    const stopped = await scheduler.run(job);
    assert.equal(stopped.stopReason, "shutdown");
    assert.deepEqual(ran, [[first, false]]);
    assert.equal(stopped.state.triggerCount, 2, "consumed, with its record");
    const records = await guard.inFlight.list("stopped");
    assert.deepEqual(records.map((r) => r.scheduledAt.getTime()), [second]);
    const resumed = await Scheduler.withExecutionGuard({}, store, guard).run(
      job,
    );
    assert.deepEqual(ran, [[first, false], [second, true]]);
    assert.equal(resumed.stopReason, "terminal");
  });
});

Deno.test("at-least-once under forbid, a manual run starting during the grant: the occurrence is skipped as reported and its record cleared", async () => {
  await withKv(async (kv) => {
    const kvGuard = new DenoKvExecutionGuard(kv, LEASE);
    let manualStarted = () => {};
    const started = new Promise<void>((resolve) => manualStarted = resolve);
    let duringGrant: (() => Promise<void>) | undefined;
    const guard = withLedgerAcquire(kvGuard, async (slot, ledger) => {
      const answer = await ledger.acquire(slot);
      const during = duringGrant;
      duringGrant = undefined;
      await during?.();
      return answer;
    });
    const scheduler = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    );
    const handle = scheduler.handle();
    const events = recordEvents(scheduler);
    scheduler.addEventListener("run-started", (event) => {
      if (event.detail.manual) manualStarted();
    });
    let manual: Promise<unknown> | undefined;
    duringGrant = () => {
      manual = handle.triggerNow();
      return started;
    };
    const at = Date.now() + 50;
    const ran: boolean[] = [];
    const report = await scheduler.run(
      Job.withoutDeps(
        "forbid",
        Schedule.atTimes([at]),
        Task.fromAsync(async ({ run }) => {
          ran.push(run.manual === true);
          if (run.manual) await delay(100);
        }),
      ).withDelivery("at-least-once"),
    );
    await manual;
    assert.deepEqual(ran, [true], "only the manual run ran");
    assert.equal(report.stopReason, "terminal");
    const skipped = events.filter((event) => event.type === "run-skipped");
    assert.equal(skipped.length, 1);
    assert.equal(
      (skipped[0] as { scheduledAt: Date }).scheduledAt.getTime(),
      at,
    );
    assert.deepEqual(await kvGuard.inFlight.list("forbid"), []);
  });
});
