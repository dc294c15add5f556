/**
 * A Deno KV lease whose deadline is finite but further ahead than any grant
 * can write (docs/stores.md): longer than the longest lease (`MAX_LEASE_MS`,
 * 365 days) plus a day of clock skew (`DEADLINE_SKEW_MS`). Like `Infinity`
 * it would hold the occurrence for years (a host whose clock ran years
 * ahead, a hand edit): it was a plain `execution-guard-contended` and an
 * at-least-once `run()` that never ended. It is damaged guard data, set
 * aside and reported as the `Infinity` deadline is; a deadline within the
 * bound is still a lease.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  DenoKvStateStore,
  type ExecutionGuardAcquire,
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { readDenoKvStatus } from "../src/status/mod.ts";
import { DEADLINE_SKEW_MS, MAX_LEASE_MS } from "../src/guard/lease_config.ts";
import { describeKvKey } from "../src/deno_kv/_kv_errors.ts";
import { acquired, dataError, LEASE } from "./_damagers.ts";
import { drive, KvIo, trackKv } from "./_kv_helpers.ts";
import { trackLists } from "./_list_tracking.ts";
import { withFakeClock } from "./_fake_time.ts";
import { T0 } from "./_engine_helpers.ts";

const PREFIX = ["scheduler", "execution-lease"];
const JOB = "far";
const LATEST = T0 + MAX_LEASE_MS + DEADLINE_SKEW_MS;
const TEN_YEARS = 10 * 365 * 86_400_000;

/** Another holder's lease on the occurrence at `at`, held until `deadline`. */
function heldUntil(deadline: number) {
  return { token: "other", fencingToken: 1n, status: "held", deadline };
}

/** The three ways a grant reads a lease: acquire, the ledger's, leased. */
function grants(kv: Deno.Kv) {
  const guard = new DenoKvExecutionGuard(kv, LEASE);
  const store = new DenoKvStateStore(kv);
  const slot = (at: number) => ({
    jobId: JOB,
    scheduledAt: new Date(at),
    triggerCount: 1,
    catchUp: false,
  });
  return [
    (at: number) => guard.acquire(slot(at)),
    (at: number) => guard.inFlight.acquire(slot(at)),
    (at: number) =>
      store.saveAndAcquire({
        guard,
        record: true,
        slot: slot(at),
        state: {
          jobId: JOB,
          triggerCount: 1,
          lastRunAt: null,
          lastSuccessAt: null,
          nextRunAt: null,
          lastError: null,
        },
      }),
  ] as ((at: number) => Promise<ExecutionGuardAcquire>)[];
}

Deno.test("Deno KV: a lease deadline beyond the longest lease plus a day of skew is a data error naming the key and its quarantine, on every grant path; one within it is contended", () =>
  withFakeClock(T0, async () => {
    const kv = await Deno.openKv(":memory:");
    try {
      for (const [i, grant] of grants(kv).entries()) {
        const at = T0 + 60_000 * (i + 1);
        const key = [...PREFIX, "lease", JOB, at];
        await kv.set(key, heldUntil(LATEST));
        assert.equal((await grant(at)).kind, "contended", "within the bound");
        await kv.set(key, heldUntil(LATEST + 1));
        const status = await readDenoKvStatus(kv);
        assert.deepEqual(
          status.damaged.map((entry) => entry.key),
          [describeKvKey(key)],
          "the status view reads it as the guard does",
        );
        await dataError(grant(at), describeKvKey(key), "further ahead");
        const aside = [];
        for await (
          const entry of kv.list({ prefix: [...PREFIX, "quarantine"] })
        ) aside.push(entry);
        assert.equal(aside.length, 1);
        assert.deepEqual(aside[0].value, heldUntil(LATEST + 1));
        await kv.delete(aside[0].key);
        acquired(await grant(at));
      }
    } finally {
      kv.close();
    }
  }));

for (const delivery of ["at-least-once", "at-most-once"] as const) {
  Deno.test(
    `Deno KV, ${delivery}: an occurrence held by a host whose clock ran ten years ahead is set aside and reported, ${
      delivery === "at-least-once" ? "replayed" : "reported lost"
    }; run() ends after the next occurrence six hours on`,
    () =>
      withFakeClock(T0, async (clock) => {
        const raw = await Deno.openKv(":memory:");
        try {
          const io = new KvIo();
          const kv = trackLists(trackKv(raw, io), { io, listed: () => {} });
          const guard = new DenoKvExecutionGuard(kv, LEASE);
          const instants = [T0 + 1_000, T0 + 6 * 3_600_000];
          // The other host took the first occurrence with its clock and died.
          clock.setSystemTime(T0 + TEN_YEARS);
          const [, taken] = grants(kv);
          acquired(await taken(instants[0]));
          clock.setSystemTime(T0);
          const scheduler = Scheduler.withExecutionGuard(
            {},
            new InMemoryStateStore(),
            guard,
          );
          const events: SchedulerEvent[] = [];
          for (
            const type of [
              "execution-guard-data-damaged",
              "execution-guard-acquire-failed",
              "run-reclaimed",
              "run-skipped",
            ] as const
          ) {
            scheduler.addEventListener(type, ({ detail }) => {
              events.push(detail);
            });
          }
          const ran: number[] = [];
          const job = Job.withoutDeps(
            JOB,
            Schedule.atTimes(instants),
            Task.fromSync(({ run }) =>
              void ran.push(run.scheduledAt.getTime())
            ),
          ).withDelivery(delivery);
          // Without the bound run() never ends: a bounded drive fails.
          const report = await drive(clock, scheduler.run(job), io, 400);
          assert.equal(report.stopReason, "terminal");
          const leaseKey = describeKvKey([
            ...PREFIX,
            "lease",
            JOB,
            instants[0],
          ]);
          const damaged = events.filter((event) =>
            "error" in event && String(event.error).includes(leaseKey)
          );
          assert.equal(damaged.length, 1, JSON.stringify(events));
          assert.ok("error" in damaged[0]);
          assert.match(String(damaged[0].error), /further ahead.*quarantine/);
          const kinds = events.map((event) =>
            event.type === "run-skipped"
              ? `${event.type}:${event.reason}`
              : event.type
          );
          if (delivery === "at-least-once") {
            assert.deepEqual(
              ran,
              instants,
              "the first replayed, then the next",
            );
            assert.ok(kinds.includes("run-reclaimed"), kinds.join());
          } else {
            assert.deepEqual(ran, [instants[1]], "the first never ran twice");
            assert.ok(kinds.includes("run-skipped:lost"), kinds.join());
          }
          for await (
            const { key } of raw.list({ prefix: [...PREFIX, "in-flight"] })
          ) assert.fail(`left in the ledger: ${describeKvKey(key)}`);
        } finally {
          raw.close();
        }
      }),
  );
}
