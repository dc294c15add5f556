/**
 * Damaged guard data is never silent in the job's state (docs/recovery.md):
 * the damage met is kept as the job's lastError and saved with the next
 * state, and a job whose grants all fail on damaged data ends `terminal`
 * with that damage as its lastError, never null.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  type ExecutionGuard,
  ExecutionGuardError,
  type InFlightLedger,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { backends, LEASE, SavesStore, T } from "./_damagers.ts";

for (const [name, withBackend, ignore] of backends) {
  Deno.test({
    name:
      `${name}: damaged ledger data met by a job is saved as its lastError with the next state`,
    ignore,
    fn: () =>
      withBackend(async (damager) => {
        const jobId = "ledger-only";
        await damager.plantUndecodable(jobId, T);
        const store = new SavesStore();
        const scheduler = Scheduler.withExecutionGuard(
          {},
          store,
          damager.guard,
        );
        const damaged: string[] = [];
        scheduler.addEventListener(
          "execution-guard-data-damaged",
          ({ detail }) => damaged.push(detail.error),
        );
        const report = await scheduler.run(
          Job.withoutDeps(
            jobId,
            Schedule.atTimes([Date.now() + 50]),
            Task.fromSync(() => {}),
          ).withDelivery("at-least-once"),
        );
        assert.equal(report.stopReason, "terminal");
        assert.equal(damaged.length, 1);
        assert.ok(
          damaged[0].replaceAll(", ", ",").includes(
            damager.names.record(jobId, T),
          ),
          damaged[0],
        );
        assert.equal(store.saves[0].lastError, damaged[0]);
      }),
  });
}

for (const delivery of ["at-least-once", "at-most-once"] as const) {
  Deno.test(`${delivery}: a job whose grants all fail on damaged data ends terminal with that damage as lastError, never null`, async () => {
    const kv = await Deno.openKv(":memory:");
    try {
      const inner = new DenoKvExecutionGuard(kv, LEASE);
      let n = 0;
      const damaged = () =>
        Promise.reject(
          new ExecutionGuardError(`damaged counter ${++n} set aside`, {
            kind: "data",
          }),
        );
      const guard: ExecutionGuard = {
        acquire: damaged,
        renew: (lease) => inner.renew(lease),
        release: (lease) => inner.release(lease),
        inFlight: { ...bound(inner.inFlight), acquire: damaged },
      };
      const store = new SavesStore();
      const start = Date.now();
      let ran = 0;
      const report = await Scheduler.withExecutionGuard({}, store, guard).run(
        Job.withoutDeps(
          "never-granted",
          Schedule.atTimes([start + 30, start + 60]),
          Task.fromSync(() => void ran++),
        ).withDelivery(delivery),
      );
      assert.equal(ran, 0);
      assert.equal(report.stopReason, "terminal");
      // Asked twice per occurrence (docs/recovery.md), the last kept.
      assert.equal(n, 4);
      assert.equal(report.state.lastError, "damaged counter 4 set aside");
      // The last state saved (the one a restart or the status view reads)
      // says why nothing ran.
      assert.equal(
        store.saves.at(-1)?.lastError,
        "damaged counter 4 set aside",
        JSON.stringify(store.saves),
      );
    } finally {
      kv.close();
    }
  });
}

/** The ledger's methods bound to it, to replace one. */
function bound(ledger: InFlightLedger): InFlightLedger {
  return {
    acquire: (slot) => ledger.acquire(slot),
    complete: (lease) => ledger.complete(lease),
    abandon: (lease) => ledger.abandon(lease),
    list: (jobId) => ledger.list(jobId),
    reclaim: (record) => ledger.reclaim(record),
  };
}
