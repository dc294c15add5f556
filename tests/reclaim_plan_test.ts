/** Which in-flight records to reclaim, as a pure function (no clock). */
import assert from "node:assert/strict";
import type { InFlightRecord } from "../mod.ts";
import { planReclaim } from "../src/scheduler/rules/_reclaim_plan.ts";

function record(
  at: number,
  holder: string,
  remainingMs: number,
): InFlightRecord {
  return {
    jobId: "job",
    scheduledAt: new Date(at),
    triggerCount: at / 1000,
    catchUp: false,
    holder,
    fencingToken: BigInt(at / 1000),
    leaseDeadline: new Date(at + 500),
    remainingMs,
  };
}

const idle = { activeRuns: 0, queued: false, ownHolders: new Set<string>() };

Deno.test("planReclaim: nothing listed → nothing to do", () => {
  assert.deepEqual(
    planReclaim({ ...idle, records: [], overlapPolicy: "forbid" }),
    { reclaim: [], deferred: 0, recheckInMs: undefined },
  );
});

Deno.test("planReclaim: idle → the oldest expired record, one at a time; the rest deferred", () => {
  const plan = planReclaim({
    ...idle,
    overlapPolicy: "forbid",
    records: [record(3000, "b", 0), record(1000, "a", 0), record(2000, "c", 0)],
  });
  assert.deepEqual(plan.reclaim.map((r) => r.holder), ["a"]);
  assert.equal(plan.deferred, 2);
});

Deno.test("planReclaim: a run active or queued here defers every reclaim (forbid, queue-one), nothing is dropped", () => {
  for (const overlapPolicy of ["forbid", "queue-one"] as const) {
    const busy = planReclaim({
      ...idle,
      activeRuns: 1,
      overlapPolicy,
      records: [record(1000, "a", 0)],
    });
    assert.deepEqual(busy.reclaim, []);
    assert.equal(busy.deferred, 1);
    const queued = planReclaim({
      ...idle,
      queued: true,
      overlapPolicy,
      records: [record(1000, "a", 0)],
    });
    assert.equal(queued.deferred, 1);
  }
});

Deno.test("planReclaim: allow-parallel reclaims every expired record at once, oldest first", () => {
  const plan = planReclaim({
    ...idle,
    activeRuns: 3,
    overlapPolicy: "allow-parallel",
    records: [record(2000, "b", 0), record(1000, "a", 0)],
  });
  assert.deepEqual(plan.reclaim.map((r) => r.holder), ["a", "b"]);
  assert.equal(plan.deferred, 0);
});

Deno.test("planReclaim: live records of others are left alone and looked at again when the first lease ends", () => {
  const plan = planReclaim({
    ...idle,
    overlapPolicy: "forbid",
    records: [record(1000, "a", 700), record(2000, "b", 250)],
  });
  assert.deepEqual(plan.reclaim, []);
  assert.equal(plan.deferred, 0);
  assert.equal(plan.recheckInMs, 250);
});

Deno.test("planReclaim: this instance's own records are never reclaimed nor waited for", () => {
  const plan = planReclaim({
    ...idle,
    ownHolders: new Set(["mine", "mine-too"]),
    overlapPolicy: "allow-parallel",
    records: [record(1000, "mine", 0), record(2000, "mine-too", 400)],
  });
  assert.deepEqual(plan, { reclaim: [], deferred: 0, recheckInMs: undefined });
});

Deno.test("planReclaim: an in-memory holder (never expiring) is neither reclaimed nor timed", () => {
  const plan = planReclaim({
    ...idle,
    overlapPolicy: "forbid",
    records: [record(1000, "memory-1", Number.POSITIVE_INFINITY)],
  });
  assert.deepEqual(plan, { reclaim: [], deferred: 0, recheckInMs: undefined });
});
