/**
 * At-most-once losses are reported (docs/recovery.md): an occurrence whose
 * holder died before completing it is reported once, as `run-skipped` with
 * reason `lost`, by a live instance once the holder's lease ran out; it is
 * never run again, and an occurrence still running on another live
 * instance (its lease renewed past the ttl) is never reported lost.
 *
 * Two instances sharing one state store and one guard backend, real time
 * (short leases), on Deno KV and on a real Valkey server.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  type ExecutionGuard,
  type InFlightLedger,
  InMemoryStateStore,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { recordEvents } from "./_engine_helpers.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const LEASE = { ttlMs: 400, renewIntervalMs: 100 };
const JOB = "lost-job";

type Guard = ExecutionGuard & { inFlight: InFlightLedger };

async function scenario(guards: [Guard, Guard]): Promise<void> {
  const now = Date.now();
  // A third instance took an earlier occurrence and died with it.
  const dead = await guards[0].inFlight.acquire({
    jobId: JOB,
    scheduledAt: new Date(now - 1_000),
    triggerCount: 1,
    catchUp: false,
  });
  assert.equal(dead.kind, "acquired");
  const times = [now + 200, now + 400, now + 600];
  const ran: number[] = [];
  const job = Job.withoutDeps(
    JOB,
    Schedule.atTimes(times),
    Task.fromAsync(async ({ run }) => {
      ran.push(run.scheduledAt.getTime());
      // The first runs for three lease ttls, renewed: alive all along.
      if (run.scheduledAt.getTime() === times[0]) {
        await new Promise((r) => setTimeout(r, 3 * LEASE.ttlMs));
      }
    }),
  ).withMissedRunPolicy(MissedRunPolicy.ReplayAll)
    .withOverlapPolicy("allow-parallel");
  assert.equal(job.delivery, "at-most-once");
  const store = new InMemoryStateStore(); // shared by both instances
  const events: SchedulerEvent[][] = [];
  const reports = await Promise.all(guards.map((guard) => {
    const scheduler = Scheduler.withExecutionGuard({}, store, guard);
    events.push(recordEvents(scheduler));
    return scheduler.run(job);
  }));
  for (const report of reports) assert.equal(report.stopReason, "terminal");
  const lost = events.flat().filter((event) =>
    event.type === "run-skipped" && event.reason === "lost"
  ) as Extract<SchedulerEvent, { type: "run-skipped" }>[];
  console.log(
    `ran ${ran.map((at) => `T+${at - now}`).join(", ")}; lost ${
      lost.map((event) => `T${event.scheduledAt.getTime() - now}`).join(", ")
    }`,
  );
  // Reported once, by one instance, and not run again.
  assert.deepEqual(lost.map((event) => event.scheduledAt.getTime()), [
    now - 1_000,
  ]);
  assert.equal(lost[0].count, 1);
  // Every live occurrence ran exactly once, the long one included.
  assert.deepEqual([...ran].sort((a, b) => a - b), times);
  // Nothing is left in the ledger: a later instance reports nothing again.
  assert.deepEqual(await guards[1].inFlight.list(JOB), []);
}

Deno.test("Deno KV, at-most-once: a dead holder's occurrence is reported lost once by a live instance; a long run renewed elsewhere is not", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await scenario([
      new DenoKvExecutionGuard(kv, LEASE),
      new DenoKvExecutionGuard(kv, LEASE),
    ]);
  } finally {
    kv.close();
  }
});

Deno.test({
  name:
    "Valkey, at-most-once: a dead holder's occurrence is reported lost once by a live instance; a long run renewed elsewhere is not",
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer(async (server) => {
      const a = await ValkeyExecutionGuard.connect(server.url, LEASE);
      const b = await ValkeyExecutionGuard.connect(server.url, LEASE);
      try {
        await scenario([a, b]);
      } finally {
        await a.close();
        await b.close();
      }
    }),
});
