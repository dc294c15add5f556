/**
 * Reconciliation as pure functions (no clock): the definition fingerprint,
 * and how a stored state from another definition is taken over.
 */
import assert from "node:assert/strict";
import { type JobState, Schedule } from "../mod.ts";
import { definitionFingerprint } from "../src/scheduler/job/_fingerprint.ts";
import { reconcileState } from "../src/scheduler/rules/_reconcile.ts";
import { withDefinition } from "../src/store/job_state.ts";
import type { DefinitionParts } from "../src/scheduler/job/_fingerprint.ts";

const NOW = Date.UTC(2026, 3, 3, 12); // a Friday, 12:00 UTC
const H = 3_600_000;

function stored(
  parts: DefinitionParts,
  overrides: Partial<JobState> = {},
): JobState {
  return withDefinition({
    jobId: "job",
    triggerCount: 3,
    lastRunAt: new Date(NOW - 2 * H),
    lastSuccessAt: new Date(NOW - 2 * H + 10),
    nextRunAt: new Date(NOW + H),
    lastError: null,
    ...overrides,
  }, definitionFingerprint(parts));
}

function reconcile(state: JobState, parts: DefinitionParts) {
  return reconcileState(state, {
    ...parts,
    fingerprint: definitionFingerprint(parts),
    now: NOW,
  });
}

const utc = { timezone: "UTC", maxRuns: undefined };

Deno.test("fingerprint: readable, and it changes with the schedule, maxRuns, and (cron only) the zone and DST policy", () => {
  const interval = { ...utc, schedule: Schedule.interval(60_000) };
  assert.equal(definitionFingerprint(interval), "v1 interval 60000 max=-");
  assert.equal(
    definitionFingerprint({ ...interval, maxRuns: 5 }),
    "v1 interval 60000 max=5",
  );
  assert.equal(
    definitionFingerprint({ ...interval, timezone: "Asia/Tokyo" }),
    definitionFingerprint(interval),
    "an interval does not depend on the zone",
  );
  const cron = { ...utc, schedule: Schedule.cron("0 9 * * *") };
  assert.equal(
    definitionFingerprint(cron),
    'v1 cron "0 9 * * *" tz=UTC dst=default/default max=-',
  );
  assert.notEqual(
    definitionFingerprint({ ...cron, timezone: "Europe/Paris" }),
    definitionFingerprint(cron),
  );
  assert.notEqual(
    definitionFingerprint({ ...cron, dst: { gap: "skip" } }),
    definitionFingerprint(cron),
  );
  const a = Schedule.atTimes([NOW + H, NOW + 2 * H, NOW + 3 * H]);
  const reordered = Schedule.atTimes([NOW + 3 * H, NOW + H, NOW + 2 * H]);
  const other = Schedule.atTimes([NOW + H, NOW + 2 * H, NOW + 4 * H]);
  assert.match(
    definitionFingerprint({ ...utc, schedule: a }),
    /^v1 at-times n=3 h=[0-9a-f]{16} max=-$/,
  );
  assert.equal(
    definitionFingerprint({ ...utc, schedule: reordered }),
    definitionFingerprint({ ...utc, schedule: a }),
    "the list is sorted: reordering it is no change",
  );
  assert.notEqual(
    definitionFingerprint({ ...utc, schedule: other }),
    definitionFingerprint({ ...utc, schedule: a }),
  );
});

Deno.test("reconcile: a state without a fingerprint (Rust, older versions) is adopted as it is", () => {
  const state: JobState = {
    jobId: "job",
    triggerCount: 3,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(NOW + H),
    lastError: null,
  };
  assert.equal(
    reconcile(state, { ...utc, schedule: Schedule.interval(1000) }),
    undefined,
  );
});

Deno.test("reconcile: the same definition changes nothing", () => {
  const parts = { ...utc, schedule: Schedule.cron("*/5 * * * *") };
  assert.equal(reconcile(stored(parts), parts), undefined);
});

Deno.test("reconcile: cron changed → the new expression's next match after now; count and history fields kept", () => {
  const before = { ...utc, schedule: Schedule.cron("0 13 * * *") };
  const after = { ...utc, schedule: Schedule.cron("30 12 * * *") };
  const state = stored(before, { nextRunAt: new Date(NOW + H) });
  const reconciled = reconcile(state, after)!;
  assert.deepEqual(reconciled.state, {
    ...state,
    nextRunAt: new Date(NOW + H / 2),
  });
  assert.deepEqual(reconciled.previous, {
    fingerprint: definitionFingerprint(before),
    nextRunAt: new Date(NOW + H),
  });
  assert.deepEqual(reconciled.next, {
    fingerprint: definitionFingerprint(after),
    nextRunAt: new Date(NOW + H / 2),
  });
});

Deno.test("reconcile: interval changed → the first instant after now on the stored next run's grid", () => {
  const before = { ...utc, schedule: Schedule.interval(H) };
  const after = { ...utc, schedule: Schedule.interval(7 * 60_000) };
  // The stored next run is NOW + 1 h; the new grid is NOW + 1 h + k × 7 min.
  const reconciled = reconcile(stored(before), after)!;
  assert.deepEqual(
    reconciled.state.nextRunAt,
    new Date(NOW + H - 8 * 7 * 60_000),
  );
  assert.equal(reconciled.state.triggerCount, 3);
  // Two instances reconciling the same stored state a little apart pick the
  // same instant (so their occurrences share guard slots); without a stored
  // next run it is now + the interval.
  const later = reconcileState(stored(before), {
    ...after,
    fingerprint: definitionFingerprint(after),
    now: NOW + 90_000,
  })!;
  assert.deepEqual(later.state.nextRunAt, reconciled.state.nextRunAt);
  const ended = reconcile(stored(before, { nextRunAt: null }), after)!;
  assert.deepEqual(ended.state.nextRunAt, new Date(NOW + 7 * 60_000));
});

Deno.test("reconcile: zone changed → the same cron's next match in the new zone", () => {
  const before = { ...utc, schedule: Schedule.cron("0 14 * * *") };
  const after = { ...before, timezone: "Europe/Paris" }; // UTC+2 in April
  const reconciled = reconcile(
    stored(before, { nextRunAt: new Date(NOW + 2 * H) }),
    after,
  )!;
  // 14:00 in Paris is 12:00 UTC: today's is now, not after it.
  assert.deepEqual(
    reconciled.state.nextRunAt,
    new Date(Date.UTC(2026, 3, 4, 12)),
  );
  assert.deepEqual(
    reconciled.previous.nextRunAt,
    new Date(NOW + 2 * H),
  );
});

Deno.test("reconcile: maxRuns lowered below triggerCount ends the job", () => {
  const before = { ...utc, schedule: Schedule.interval(1000), maxRuns: 10 };
  const after = { ...before, maxRuns: 2 };
  const reconciled = reconcile(stored(before), after)!;
  assert.equal(reconciled.state.nextRunAt, null);
  assert.equal(reconciled.state.triggerCount, 3);
  assert.equal(reconciled.next.nextRunAt, null);
});

Deno.test("reconcile: maxRuns raised on an ended state resumes it", () => {
  const before = { ...utc, schedule: Schedule.interval(1000), maxRuns: 3 };
  const after = { ...before, maxRuns: 5 };
  const reconciled = reconcile(stored(before, { nextRunAt: null }), after)!;
  assert.deepEqual(reconciled.state.nextRunAt, new Date(NOW + 1000));
});

Deno.test("reconcile: at-times reordered is no change; an edited list is re-indexed by instant, not by position", () => {
  const times = [NOW - 2 * H, NOW - H, NOW + H, NOW + 2 * H];
  const before = { ...utc, schedule: Schedule.atTimes(times) };
  const state = stored(before, {
    triggerCount: 2,
    nextRunAt: new Date(NOW + H),
  });
  const reordered = {
    ...utc,
    schedule: Schedule.atTimes([times[3], times[1], times[0], times[2]]),
  };
  assert.equal(reconcile(state, reordered), undefined);
  // An instant inserted before the stored next one, still in the future,
  // runs; instants before it that are past were consumed.
  const inserted = {
    ...utc,
    schedule: Schedule.atTimes([
      NOW - 3 * H,
      NOW + H / 2,
      NOW + H,
      NOW + 2 * H,
    ]),
  };
  assert.deepEqual(
    reconcile(state, inserted)!.state.nextRunAt,
    new Date(NOW + H / 2),
  );
  // The stored next instant removed: the next one after it, by instant.
  const removed = {
    ...utc,
    schedule: Schedule.atTimes([NOW - 2 * H, NOW - H, NOW + 2 * H]),
  };
  assert.deepEqual(
    reconcile(state, removed)!.state.nextRunAt,
    new Date(NOW + 2 * H),
  );
  // The stored next run was already due (the service was down): instants
  // from it on stay due for the missed-run policy.
  const late = stored(before, {
    triggerCount: 1,
    nextRunAt: new Date(NOW - H),
  });
  const shifted = {
    ...utc,
    schedule: Schedule.atTimes([NOW - 2 * H, NOW - H / 2, NOW + H]),
  };
  assert.deepEqual(
    reconcile(late, shifted)!.state.nextRunAt,
    new Date(NOW - H / 2),
  );
  // Nothing left at or after the anchor: the job ends.
  const over = { ...utc, schedule: Schedule.atTimes([NOW - 3 * H]) };
  assert.equal(reconcile(state, over)!.state.nextRunAt, null);
});
