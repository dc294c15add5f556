/**
 * Whatever a task or a custom store throws — a revoked
 * `Proxy`, a proxy whose every trap throws — `run()` still records the run,
 * releases the lease, stops renewing it, and settles.
 */
import assert from "node:assert/strict";
import {
  type ExecutionGuard,
  type ExecutionLease,
  InMemoryStateStore,
  Job,
  type JobState,
  Schedule,
  Scheduler,
  StoreError,
  Task,
} from "../mod.ts";
import { describeThrown, isInstance } from "../src/errors.ts";
import { withFakeClock } from "./_fake_time.ts";
import { settle, T0 } from "./_engine_helpers.ts";

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** A proxy whose every trap throws. */
function hostileProxy(): object {
  const boom = () => {
    throw new Error("trap");
  };
  return new Proxy({}, {
    get: boom,
    getPrototypeOf: boom,
    has: boom,
    ownKeys: boom,
    getOwnPropertyDescriptor: boom,
  });
}

/** A guard that grants every slot and counts renewals and releases. */
class CountingGuard implements ExecutionGuard {
  renewals = 0;
  releases = 0;
  acquire(slot: { jobId: string; scheduledAt: Date }) {
    return Promise.resolve({
      kind: "acquired" as const,
      lease: { ...slot, token: "t", leaseKey: "k", fencingToken: 1n },
    });
  }
  renew(_lease: ExecutionLease) {
    this.renewals++;
    return Promise.resolve("renewed" as const);
  }
  release(_lease: ExecutionLease) {
    this.releases++;
    return Promise.resolve();
  }
  renewIntervalMs() {
    return 100;
  }
}

for (
  const [name, make] of [
    ["a revoked proxy", revokedProxy],
    ["a proxy whose traps throw", hostileProxy],
  ] as const
) {
  Deno.test(`thrown values: a task rejecting with ${name} is failed; the lease is released and no longer renewed`, async () => {
    await withFakeClock(T0, async (clock) => {
      const guard = new CountingGuard();
      const scheduler = Scheduler.withExecutionGuard(
        {},
        new InMemoryStateStore(),
        guard,
      );
      const job = Job.withoutDeps(
        "hostile",
        Schedule.interval(1000),
        Task.fromAsync(async () => {
          await new Promise((resolve) => setTimeout(resolve, 250));
          throw make();
        }),
      ).withMaxRuns(1);
      const report = await settle(clock, scheduler.run(job), 10_000);
      assert.equal(report.stopReason, "terminal");
      assert.equal(report.history.length, 1);
      assert.equal(report.history[0].status, "failed");
      assert.equal(typeof report.history[0].error, "string");
      assert.ok(report.history[0].error!.length > 0);
      assert.equal(guard.releases, 1, "the lease was released");
      const renewals = guard.renewals;
      assert.ok(renewals >= 1, "the lease was renewed while the task ran");
      await clock.tickAsync(5_000);
      assert.equal(guard.renewals, renewals, "no renewal after run() settled");
    });
  });
}

Deno.test("thrown values: a store rejecting with a revoked proxy fails run() with a StoreError", async () => {
  class HostileStore extends InMemoryStateStore {
    override save(_state: JobState): Promise<void> {
      return Promise.reject(revokedProxy());
    }
  }
  const scheduler = new Scheduler({}, new HostileStore());
  const job = Job.withoutDeps(
    "hostile-store",
    Schedule.interval(1000),
    Task.fromSync(() => {}),
  );
  await assert.rejects(scheduler.run(job), (error) => {
    assert.ok(error instanceof StoreError);
    assert.equal(error.operation, "save");
    return true;
  });
});

Deno.test("thrown values: isInstance and describeThrown never throw on hostile values", () => {
  for (const value of [revokedProxy(), hostileProxy()]) {
    assert.equal(isInstance(value, Error), false);
    assert.equal(typeof describeThrown(value), "string");
  }
  assert.equal(isInstance(new StoreError("x", { kind: "data" }), Error), true);
});
