/** The pure decision function: no clock, no timers, no store. */
import assert from "node:assert/strict";
import { Schedule } from "../mod.ts";
import {
  decide,
  decisionBlocked,
  type DecisionInput,
} from "../src/scheduler/rules/_decide.ts";

const NOW = 1_000_000;
const S = 1000;

function input(overrides: Partial<DecisionInput>): DecisionInput {
  return {
    schedule: Schedule.interval(S),
    maxRuns: undefined,
    missedRunPolicy: "catch-up-once",
    overlapPolicy: "forbid",
    missedRunToleranceMs: 1000,
    timezone: "UTC",
    cursor: { triggerCount: 0, nextRunAt: NOW },
    now: NOW,
    activeRuns: 0,
    queued: false,
    ...overrides,
  };
}

Deno.test("nothing due: no decision", () => {
  assert.equal(
    decide(input({ cursor: { triggerCount: 0, nextRunAt: NOW + 1 } })),
    undefined,
  );
  assert.equal(
    decide(input({ cursor: { triggerCount: 4, nextRunAt: null } })),
    undefined,
  );
});

Deno.test("one on-time occurrence starts, whatever the missed-run policy", () => {
  for (
    const missedRunPolicy of ["skip", "catch-up-once", "replay-all"] as const
  ) {
    assert.deepEqual(decide(input({ missedRunPolicy })), {
      cursor: { triggerCount: 1, nextRunAt: NOW + S },
      trigger: { scheduledAt: NOW, catchUp: false, triggerCount: 1 },
      action: "start",
      skipped: undefined,
    }, missedRunPolicy);
  }
});

Deno.test("skip: several due → none run, all reported missed (seed: [−2 s, +2 s] advances)", () => {
  const decision = decide(input({
    missedRunPolicy: "skip",
    schedule: Schedule.atTimes([NOW - 2 * S, NOW + 2 * S]),
    cursor: { triggerCount: 0, nextRunAt: NOW - 2 * S },
  }));
  assert.deepEqual(decision, {
    cursor: { triggerCount: 1, nextRunAt: NOW + 2 * S },
    trigger: undefined,
    action: "none",
    skipped: { count: 1, scheduledAt: NOW - 2 * S, reason: "missed" },
  });
});

Deno.test("catch-up-once: runs the latest, reports the others missed", () => {
  const decision = decide(
    input({ cursor: { triggerCount: 3, nextRunAt: NOW - 3 * S } }),
  );
  assert.deepEqual(decision, {
    cursor: { triggerCount: 7, nextRunAt: NOW + S },
    trigger: { scheduledAt: NOW, catchUp: true, triggerCount: 7 },
    action: "start",
    skipped: { count: 3, scheduledAt: NOW - S, reason: "missed" },
  });
});

Deno.test("catch-up-once: a single late occurrence is a catch-up run", () => {
  const decision = decide(input({
    cursor: { triggerCount: 0, nextRunAt: NOW - 1500 },
    schedule: Schedule.interval(10 * S),
  }));
  assert.deepEqual(decision?.trigger, {
    scheduledAt: NOW - 1500,
    catchUp: true,
    triggerCount: 1,
  });
  assert.equal(decision?.skipped, undefined);
});

Deno.test("replay-all: the earliest, catch-up when more are due (seed: [−2 s, −1 s])", () => {
  const decision = decide(input({
    missedRunPolicy: "replay-all",
    schedule: Schedule.atTimes([NOW - 2 * S, NOW - S]),
    cursor: { triggerCount: 0, nextRunAt: NOW - 2 * S },
    missedRunToleranceMs: 10 * S,
  }));
  assert.deepEqual(decision, {
    cursor: { triggerCount: 1, nextRunAt: NOW - S },
    trigger: { scheduledAt: NOW - 2 * S, catchUp: true, triggerCount: 1 },
    action: "start",
    skipped: undefined,
  });
});

Deno.test("forbid drops while active; everything consumed is reported as overlap", () => {
  const decision = decide(input({
    activeRuns: 1,
    cursor: { triggerCount: 0, nextRunAt: NOW - 2 * S },
  }));
  assert.deepEqual(decision, {
    cursor: { triggerCount: 3, nextRunAt: NOW + S },
    trigger: { scheduledAt: NOW, catchUp: true, triggerCount: 3 },
    action: "none",
    skipped: { count: 3, scheduledAt: NOW, reason: "overlap" },
  });
});

Deno.test("queue-one queues while active; merged occurrences are its overflow", () => {
  const single = decide(input({ overlapPolicy: "queue-one", activeRuns: 1 }));
  assert.equal(single?.action, "queue");
  assert.equal(single?.skipped, undefined);
  const merged = decide(input({
    overlapPolicy: "queue-one",
    activeRuns: 1,
    cursor: { triggerCount: 0, nextRunAt: NOW - S },
  }));
  assert.equal(merged?.action, "queue");
  assert.deepEqual(merged?.skipped, {
    count: 1,
    scheduledAt: NOW - S,
    reason: "overlap",
  });
});

Deno.test("allow-parallel starts while active", () => {
  assert.equal(
    decide(input({ overlapPolicy: "allow-parallel", activeRuns: 3 }))?.action,
    "start",
  );
});

Deno.test("blocked: while a trigger is queued, and for serial replay-all while active", () => {
  assert.equal(decisionBlocked(input({ queued: true })), true);
  assert.equal(
    decide(input({ queued: true, overlapPolicy: "queue-one", activeRuns: 1 })),
    undefined,
  );
  for (const overlapPolicy of ["forbid", "queue-one"] as const) {
    const blocked = input({
      missedRunPolicy: "replay-all",
      overlapPolicy,
      activeRuns: 1,
    });
    assert.equal(decisionBlocked(blocked), true);
    assert.equal(decide(blocked), undefined);
  }
  assert.equal(
    decide(
      input({
        missedRunPolicy: "replay-all",
        overlapPolicy: "allow-parallel",
        activeRuns: 1,
      }),
    )
      ?.action,
    "start",
  );
  assert.equal(decisionBlocked(input({ activeRuns: 1 })), false);
});

Deno.test("maxRuns caps consumption and ends the schedule", () => {
  const decision = decide(input({
    maxRuns: 2,
    cursor: { triggerCount: 0, nextRunAt: NOW - 5 * S },
  }));
  assert.deepEqual(decision?.cursor, { triggerCount: 2, nextRunAt: null });
  assert.equal(decision?.trigger?.scheduledAt, NOW - 4 * S);
  assert.equal(decision?.skipped?.count, 1);
});

Deno.test("a million missed interval occurrences are one decision", () => {
  const decision = decide(input({
    schedule: Schedule.interval(1),
    cursor: { triggerCount: 0, nextRunAt: NOW - 999_999 },
  }));
  assert.equal(decision?.cursor.triggerCount, 1_000_000);
  assert.equal(decision?.skipped?.count, 999_999);
});

Deno.test("the missed-run tolerance boundary: late means more than the tolerance (tolerance 0, skip: on time runs, 1 ms late is missed)", () => {
  for (const tolerance of [0, 1000]) {
    const onTheBoundary = decide(input({
      missedRunPolicy: "skip",
      missedRunToleranceMs: tolerance,
      schedule: Schedule.interval(10 * S),
      cursor: { triggerCount: 0, nextRunAt: NOW - tolerance },
    }));
    assert.equal(onTheBoundary?.action, "start", `tolerance ${tolerance}`);
    assert.equal(onTheBoundary?.trigger?.catchUp, false);
    const past = decide(input({
      missedRunPolicy: "skip",
      missedRunToleranceMs: tolerance,
      schedule: Schedule.interval(10 * S),
      cursor: { triggerCount: 0, nextRunAt: NOW - tolerance - 1 },
    }));
    assert.equal(past?.action, "none", `tolerance ${tolerance}`);
    assert.deepEqual(past?.skipped, {
      count: 1,
      scheduledAt: NOW - tolerance - 1,
      reason: "missed",
    });
    // catch-up-once runs it either way, marked catch-up only past the bound.
    const caughtUp = decide(input({
      missedRunToleranceMs: tolerance,
      schedule: Schedule.interval(10 * S),
      cursor: { triggerCount: 0, nextRunAt: NOW - tolerance - 1 },
    }));
    assert.equal(caughtUp?.trigger?.catchUp, true);
  }
});
