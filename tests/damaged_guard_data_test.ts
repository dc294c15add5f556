/**
 * Damaged guard data never stops a job (docs/recovery.md), on Deno KV and
 * on Valkey: a corrupt fencing counter, a lease key of the wrong type, an
 * undecodable and an orphaned in-flight record each give an
 * `ExecutionGuardError` kind `data` naming the key and the quarantine key
 * its value moved to; the next call goes through; and a job meeting all of
 * them runs every occurrence with the damage reported as events.
 */
import assert from "node:assert/strict";
import { Job, Schedule, Scheduler, type SchedulerEvent, Task } from "../mod.ts";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { closeClient, connectClient } from "../src/valkey/_client.ts";
import { openClient } from "../src/valkey/_open_client.ts";
import { withValkeyServer } from "./_valkey_server.ts";
import {
  acquired,
  backends,
  dataError,
  LEASE,
  SavesStore,
  slot,
  T,
  valkey,
  VALKEY_PREFIX,
} from "./_damagers.ts";

for (const [name, withBackend, ignore] of backends) {
  Deno.test({
    name:
      `${name}: a corrupt fencing counter is a data error naming it and its quarantine key; the next grant's token is above every earlier one`,
    ignore,
    fn: () =>
      withBackend(async ({ guard, corruptCounter, quarantined }) => {
        const first = acquired(await guard.inFlight.acquire(slot("c", T)));
        await corruptCounter("c");
        const grants = [
          (at: ReturnType<typeof slot>) => guard.inFlight.acquire(at),
          (at: ReturnType<typeof slot>) => guard.acquire(at),
        ];
        for (const [i, grant] of grants.entries()) {
          const message = await dataError(
            grant(slot("c", T + 1 + i)),
            "fencing",
            "quarantine",
          );
          assert.match(message, /"c"|:c:/);
          const next = acquired(
            await grant(slot("c", T + 1 + i)),
          );
          assert.ok(next.fencingToken! > first.fencingToken!);
          await corruptCounter("c");
          await guard.release(next);
        }
        assert.equal((await quarantined("c")).length, 2, "both kept aside");
      }),
  });

  Deno.test({
    name:
      `${name}: an undecodable in-flight record is a data error naming it and its quarantine; the next list has the good records`,
    ignore,
    fn: () =>
      withBackend(async ({ guard, plantUndecodable, quarantined }) => {
        const good = acquired(await guard.inFlight.acquire(slot("u", T)));
        await plantUndecodable("u", T + 1_000);
        await dataError(guard.inFlight.list("u"), "in-flight", "quarantine");
        const left = await guard.inFlight.list("u");
        assert.deepEqual(left.map((record) => record.holder), [good.token]);
        assert.equal((await quarantined("u")).length, 1);
      }),
  });

  Deno.test({
    name:
      `${name}: an orphaned in-flight record (its occurrence completed by another holder) is set aside at reclaim, reported as data`,
    ignore,
    fn: () =>
      withBackend(async ({ guard, markDoneByAnother, quarantined }) => {
        acquired(await guard.inFlight.acquire(slot("o", T)));
        await markDoneByAnother("o", T);
        const [record] = await guard.inFlight.list("o");
        assert.equal(record.remainingMs, 0, "not alive: up for reclaim");
        await dataError(
          guard.inFlight.reclaim(record),
          "orphaned",
          "quarantine",
        );
        assert.deepEqual(await guard.inFlight.list("o"), []);
        assert.equal((await quarantined("o")).length, 1);
      }),
  });

  Deno.test({
    name:
      `${name}: an at-least-once job meeting a corrupt counter, an undecodable and an orphaned record runs every occurrence; each damage is an event naming its key`,
    ignore,
    fn: () =>
      withBackend(async (damager) => {
        const { guard } = damager;
        const jobId = "whole";
        acquired(await guard.inFlight.acquire(slot(jobId, T)));
        await damager.markDoneByAnother(jobId, T);
        await damager.plantUndecodable(jobId, T + 1_000);
        await damager.corruptCounter(jobId);
        const start = Date.now();
        const instants = [start + 100, start + 200, start + 300];
        const ran: number[] = [];
        const store = new SavesStore();
        const scheduler = Scheduler.withExecutionGuard({}, store, guard);
        const events: SchedulerEvent[] = [];
        for (
          const type of [
            "execution-guard-acquire-failed",
            "execution-guard-data-damaged",
          ] as const
        ) {
          scheduler.addEventListener(type, ({ detail }) => events.push(detail));
        }
        const report = await scheduler.run(
          Job.withoutDeps(
            jobId,
            Schedule.atTimes(instants),
            Task.fromSync(({ run }) =>
              void ran.push(run.scheduledAt.getTime())
            ),
          )
            .withDelivery("at-least-once")
            // Real time: a pause on a loaded machine must not merge them.
            .withMissedRunPolicy("replay-all"),
        );
        assert.equal(report.stopReason, "terminal");
        assert.deepEqual(ran, instants, "every occurrence ran");
        const named = (
          type: SchedulerEvent["type"],
          key: string,
          what: RegExp,
        ) => {
          const found = events.filter((event) =>
            event.type === type && "error" in event &&
            String(event.error).replaceAll(", ", ",").includes(
              key.replaceAll(", ", ","),
            ) && what.test(String(event.error))
          );
          assert.equal(
            found.length,
            1,
            `one ${type} naming ${key}: ${JSON.stringify(events)}`,
          );
        };
        named(
          "execution-guard-data-damaged",
          damager.names.record(jobId, T),
          /orphaned/,
        );
        named(
          "execution-guard-data-damaged",
          damager.names.record(jobId, T + 1_000),
          /decode|corrupt/,
        );
        named(
          "execution-guard-acquire-failed",
          damager.names.counter(jobId),
          /fencing/,
        );
        assert.equal(events.length, 3, "no other damage reported");
        const errors = events.map((event) =>
          "error" in event ? String(event.error) : ""
        );
        assert.ok(errors.every((error) => /quarantine/.test(error)));
        // The damage was kept as the job's lastError (one field: the latest,
        // the counter's at the first grant) and saved with the occurrence's
        // consumption, before the run; the run's success cleared it.
        const saved = store.saves.map((state) => state.lastError);
        assert.equal(saved[0], errors[2], `saved: ${JSON.stringify(saved)}`);
        assert.equal(store.saves[0].lastSuccessAt, null);
        assert.equal(report.state.lastError, null, "runs succeeded since");
        assert.deepEqual(await guard.inFlight.list(jobId), []);
      }),
  });
}

Deno.test({
  name:
    "Valkey: a counter out of range or holding text, and a lease key of the wrong type, are set aside under quarantine keys; the next grant goes through",
  ignore: !valkey,
  fn: () =>
    withValkeyServer(async (server) => {
      const raw = openClient(server.url, "test").client;
      await connectClient(raw);
      const fresh = () => ValkeyExecutionGuard.connect(server.url, LEASE);
      const counter = `${VALKEY_PREFIX}v:fencing-token`;
      try {
        for (const garbage of ["99999999999999999999", "seven", "-3"]) {
          await raw.set(counter, garbage);
          // A fresh guard: no floor of its own to raise the counter to.
          const guard = await fresh();
          try {
            const message = await dataError(
              guard.acquire({ jobId: "v", scheduledAt: new Date(T) }),
              counter,
              `${VALKEY_PREFIX}v:quarantine:fencing-token:`,
            );
            assert.ok(message.includes("damaged"), message);
            const lease = acquired(
              await guard.acquire({ jobId: "v", scheduledAt: new Date(T) }),
            );
            await raw.del(lease.leaseKey);
          } finally {
            await guard.close();
          }
        }
        const guard = await fresh();
        try {
          const at = { jobId: "v", scheduledAt: new Date(T + 1) };
          const leaseKey = guard.leaseKey("v", at.scheduledAt);
          await raw.hset(leaseKey, "not", "a lease");
          await dataError(guard.acquire(at), leaseKey, "quarantine");
          acquired(await guard.acquire(at));
        } finally {
          await guard.close();
        }
        const kept = await raw.keys(`${VALKEY_PREFIX}v:quarantine:*`);
        assert.equal(kept.length, 4, kept.join(", "));
      } finally {
        await closeClient(raw);
      }
    }),
});
