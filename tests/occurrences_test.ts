/** The pure occurrence arithmetic the engine relies on (no time involved). */
import assert from "node:assert/strict";
import { InvalidJobError, Schedule } from "../mod.ts";
import {
  consumeDue,
  firstOccurrence,
  occurrenceAfter,
} from "../src/schedule/_occurrences.ts";

const UTC = { timezone: "UTC" };
const NOW = Date.UTC(2026, 3, 3, 12, 0, 0);
const SECOND = 1000;

Deno.test("firstOccurrence: interval is now + every; at-times the earliest (even past); cron the next match", () => {
  assert.equal(
    firstOccurrence(Schedule.interval(5000), { ...UTC, now: NOW }),
    NOW + 5000,
  );
  assert.equal(
    firstOccurrence(Schedule.atTimes([NOW + 10, NOW - 10]), {
      ...UTC,
      now: NOW,
    }),
    NOW - 10,
  );
  assert.equal(
    firstOccurrence(Schedule.atTimes([]), { ...UTC, now: NOW }),
    null,
  );
  assert.equal(
    firstOccurrence(Schedule.cron("0 13 * * *"), { ...UTC, now: NOW }),
    NOW + 3600 * SECOND,
  );
  assert.equal(
    firstOccurrence(Schedule.cron("0 13 * * *"), {
      timezone: "Asia/Shanghai",
      now: NOW,
    }),
    Date.UTC(2026, 3, 4, 5, 0, 0),
  );
});

Deno.test("firstOccurrence: maxRuns 0 has none; an interval past the Date range is an error", () => {
  assert.equal(
    firstOccurrence(Schedule.interval(5), { ...UTC, now: NOW, maxRuns: 0 }),
    null,
  );
  assert.throws(
    () => firstOccurrence(Schedule.interval(8.64e15), { ...UTC, now: NOW }),
    (error: unknown) =>
      error instanceof InvalidJobError &&
      error.kind === "interval-out-of-range",
  );
});

Deno.test("occurrenceAfter: interval adds, at-times searches, cron steps", () => {
  assert.equal(occurrenceAfter(Schedule.interval(10), 100, UTC), 110);
  assert.equal(occurrenceAfter(Schedule.interval(10), 8.64e15 - 5, UTC), null);
  const list = Schedule.atTimes([10, 20, 30]);
  assert.equal(occurrenceAfter(list, 10, UTC), 20);
  assert.equal(occurrenceAfter(list, 15, UTC), 20);
  assert.equal(occurrenceAfter(list, 30, UTC), null);
  assert.equal(
    occurrenceAfter(
      Schedule.cron("* * * * *"),
      Date.UTC(2026, 3, 3, 1, 2),
      UTC,
    ),
    Date.UTC(2026, 3, 3, 1, 3),
  );
});

Deno.test("consumeDue: nothing due, or no next run, gives undefined", () => {
  const interval = Schedule.interval(SECOND);
  assert.equal(
    consumeDue(interval, { triggerCount: 0, nextRunAt: NOW + 1 }, {
      ...UTC,
      now: NOW,
    }),
    undefined,
  );
  assert.equal(
    consumeDue(interval, { triggerCount: 0, nextRunAt: null }, {
      ...UTC,
      now: NOW,
    }),
    undefined,
  );
});

Deno.test("consumeDue: interval 1 s from now−3 s consumes 4 (seed case)", () => {
  const consumed = consumeDue(
    Schedule.interval(SECOND),
    { triggerCount: 0, nextRunAt: NOW - 3 * SECOND },
    { ...UTC, now: NOW },
  );
  assert.deepEqual(consumed, {
    count: 4,
    earliest: NOW - 3 * SECOND,
    latest: NOW,
    beforeLatest: NOW - SECOND,
    cursor: { triggerCount: 4, nextRunAt: NOW + SECOND },
  });
});

Deno.test("consumeDue: interval with maxRuns stops at the cap (seed: max 2, count 2 → no next)", () => {
  const consumed = consumeDue(
    Schedule.interval(SECOND),
    { triggerCount: 1, nextRunAt: NOW - 5 * SECOND },
    { ...UTC, now: NOW, maxRuns: 2 },
  );
  assert.deepEqual(consumed?.cursor, { triggerCount: 2, nextRunAt: null });
  assert.equal(consumed?.count, 1);
  // seed: due window for interval 1 s, next = now−2 s, max 4 → first = now−2 s, several due
  const window = consumeDue(
    Schedule.interval(SECOND),
    { triggerCount: 0, nextRunAt: NOW - 2 * SECOND },
    { ...UTC, now: NOW, maxRuns: 4 },
  );
  assert.equal(window?.earliest, NOW - 2 * SECOND);
  assert.equal(window?.count, 3);
  assert.deepEqual(window?.cursor, {
    triggerCount: 3,
    nextRunAt: NOW + SECOND,
  });
});

Deno.test("consumeDue: a restored next run is consumable even past a lowered cap", () => {
  const consumed = consumeDue(
    Schedule.interval(SECOND),
    { triggerCount: 5, nextRunAt: NOW - 10 * SECOND },
    { ...UTC, now: NOW, maxRuns: 3 },
  );
  assert.equal(consumed?.count, 1);
  assert.deepEqual(consumed?.cursor, { triggerCount: 6, nextRunAt: null });
});

Deno.test("consumeDue: limit 1 takes only the earliest (replay-all)", () => {
  const consumed = consumeDue(
    Schedule.atTimes([NOW - 2 * SECOND, NOW - SECOND, NOW + 3 * SECOND]),
    { triggerCount: 0, nextRunAt: NOW - 2 * SECOND },
    { ...UTC, now: NOW, limit: 1 },
  );
  assert.deepEqual(consumed, {
    count: 1,
    earliest: NOW - 2 * SECOND,
    latest: NOW - 2 * SECOND,
    beforeLatest: null,
    cursor: { triggerCount: 1, nextRunAt: NOW - SECOND },
  });
});

Deno.test("consumeDue: at-times finds the due ones with a search (seed: 2 of [−2 s, −1 s, +3 s])", () => {
  const times = [NOW - 2 * SECOND, NOW - SECOND, NOW + 3 * SECOND];
  const consumed = consumeDue(
    Schedule.atTimes(times),
    { triggerCount: 0, nextRunAt: times[0] },
    { ...UTC, now: NOW },
  );
  assert.deepEqual(consumed, {
    count: 2,
    earliest: times[0],
    latest: times[1],
    beforeLatest: times[0],
    cursor: { triggerCount: 2, nextRunAt: times[2] },
  });
  const many = Schedule.atTimes(
    Array.from({ length: 10 }, (_, i) => NOW - (10 - i) * SECOND),
  );
  const all = consumeDue(many, {
    triggerCount: 0,
    nextRunAt: NOW - 10 * SECOND,
  }, { ...UTC, now: NOW });
  assert.equal(all?.count, 10);
  assert.equal(all?.latest, NOW - SECOND);
  assert.equal(all?.beforeLatest, NOW - 2 * SECOND);
  assert.deepEqual(all?.cursor, { triggerCount: 10, nextRunAt: null });
});

Deno.test("consumeDue: at-times with a stored next run that is not in the list", () => {
  const consumed = consumeDue(
    Schedule.atTimes([NOW - 5, NOW + 5]),
    { triggerCount: 3, nextRunAt: NOW - 7 },
    { ...UTC, now: NOW },
  );
  assert.equal(consumed?.count, 2);
  assert.equal(consumed?.latest, NOW - 5);
  assert.deepEqual(consumed?.cursor, { triggerCount: 5, nextRunAt: NOW + 5 });
});

Deno.test("consumeDue: cron steps through the due minutes", () => {
  const minute = 60 * SECOND;
  const floor = Math.floor(NOW / minute) * minute;
  const consumed = consumeDue(
    Schedule.cron("* * * * *"),
    { triggerCount: 0, nextRunAt: floor - 2 * minute },
    { ...UTC, now: NOW },
  );
  assert.deepEqual(consumed, {
    count: 3,
    earliest: floor - 2 * minute,
    latest: floor,
    beforeLatest: floor - minute,
    cursor: { triggerCount: 3, nextRunAt: floor + minute },
  });
});

Deno.test("consumeDue: a million missed interval occurrences in one step", () => {
  const consumed = consumeDue(
    Schedule.interval(1),
    { triggerCount: 7, nextRunAt: NOW - 999_999 },
    { ...UTC, now: NOW },
  );
  assert.equal(consumed?.count, 1_000_000);
  assert.equal(consumed?.latest, NOW);
  assert.deepEqual(consumed?.cursor, {
    triggerCount: 1_000_007,
    nextRunAt: NOW + 1,
  });
});
