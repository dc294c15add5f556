/**
 * The `Schedule` constructors validate their input: interval bounds and
 * kinds of error, at-times lists sorted, de-duplicated and copied from any
 * iterable, and cron from text or a `CronSchedule`.
 */
import assert from "node:assert/strict";
import { CronSchedule, InvalidJobError, Schedule } from "../mod.ts";

function assertInvalid(fn: () => unknown, kind: string, fragment: RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InvalidJobError, String(error));
    assert.equal(error.kind, kind);
    assert.match(error.message, fragment);
    return true;
  });
}

Deno.test("interval: valid values", () => {
  assert.deepEqual(Schedule.interval(1), { kind: "interval", everyMs: 1 });
  assert.deepEqual(Schedule.interval(8.64e15), {
    kind: "interval",
    everyMs: 8.64e15,
  });
  assert.ok(Object.isFrozen(Schedule.interval(5)));
});

Deno.test("interval: zero is kind zero-interval", () => {
  assertInvalid(
    () => Schedule.interval(0),
    "zero-interval",
    /greater than zero/,
  );
  assertInvalid(
    () => Schedule.interval(-0),
    "zero-interval",
    /greater than zero/,
  );
});

Deno.test("interval: negative, NaN, infinite, fractional, huge and non-numbers are out of range", () => {
  for (
    const [value, shown] of [
      [-1, "-1"],
      [Number.NaN, "NaN"],
      [Infinity, "Infinity"],
      [-Infinity, "-Infinity"],
      [1.5, "1.5"],
      [8.64e15 + 1, "8640000000000001"],
      ["10" as unknown as number, '"10"'],
      [undefined as unknown as number, "undefined"],
    ] as const
  ) {
    assertInvalid(
      () => Schedule.interval(value),
      "interval-out-of-range",
      new RegExp(`got ${shown}$`),
    );
  }
});

Deno.test("atTimes: dates, epoch ms and RFC 3339 strings with offsets; sorted and de-duplicated", () => {
  const schedule = Schedule.atTimes([
    "2026-04-03T09:00:00+08:00",
    Date.UTC(2026, 3, 4),
    new Date("2026-04-02T00:00:00Z"),
    "2026-04-03T01:00:00Z",
    "2026-04-03T01:00:00.000z",
    "2026-04-03T01:00:00.000999999Z",
    "2026-04-02T21:00:00-04:00",
  ]);
  assert.equal(schedule.kind, "at-times");
  if (schedule.kind !== "at-times") return;
  assert.deepEqual(schedule.times.map((t) => t.toISOString()), [
    "2026-04-02T00:00:00.000Z",
    "2026-04-03T01:00:00.000Z",
    "2026-04-04T00:00:00.000Z",
  ]);
});

Deno.test("atTimes: the input Date is copied, not kept", () => {
  const input = new Date("2026-01-01T00:00:00Z");
  const schedule = Schedule.atTimes([input]);
  input.setTime(0);
  if (schedule.kind !== "at-times") throw new Error("kind");
  assert.equal(schedule.times[0].toISOString(), "2026-01-01T00:00:00.000Z");
});

Deno.test("atTimes: an empty list is a valid schedule", () => {
  const schedule = Schedule.atTimes([]);
  assert.deepEqual(schedule, { kind: "at-times", times: [] });
});

Deno.test("atTimes: accepts any iterable", () => {
  function* instants() {
    yield 1000;
    yield 2000;
  }
  const schedule = Schedule.atTimes(instants());
  if (schedule.kind !== "at-times") throw new Error("kind");
  assert.equal(schedule.times.length, 2);
});

Deno.test("atTimes: strings without an offset, invalid dates and garbage are kind other", () => {
  assertInvalid(
    () => Schedule.atTimes(["2026-04-03T09:00:00"]),
    "other",
    /entry 0 "2026-04-03T09:00:00".*explicit offset/,
  );
  assertInvalid(() => Schedule.atTimes(["2026-04-03"]), "other", /entry 0/);
  assertInvalid(
    () => Schedule.atTimes([0, "tomorrow"]),
    "other",
    /entry 1 "tomorrow"/,
  );
  assertInvalid(
    () => Schedule.atTimes(["2026-02-30T00:00:00Z"]),
    "other",
    /entry 0 "2026-02-30T00:00:00Z" is not a valid RFC 3339 instant/,
  );
  assertInvalid(
    () => Schedule.atTimes(["2026-04-03T24:00:00Z"]),
    "other",
    /entry 0/,
  );
  assertInvalid(
    () => Schedule.atTimes(["2026-04-03T09:00:00+24:00"]),
    "other",
    /entry 0/,
  );
  assertInvalid(
    () => Schedule.atTimes([new Date(Number.NaN)]),
    "other",
    /entry 0 is not a valid instant/,
  );
  assertInvalid(
    () => Schedule.atTimes([Number.NaN]),
    "other",
    /entry 0 is not a valid instant: NaN/,
  );
  assertInvalid(
    () => Schedule.atTimes([1e20]),
    "other",
    /not a valid instant: 100000000000000000000/,
  );
  assertInvalid(
    () => Schedule.atTimes([{} as unknown as number]),
    "other",
    /entry 0 must be a Date/,
  );
  assertInvalid(
    () => Schedule.atTimes(42 as unknown as number[]),
    "other",
    /iterable/,
  );
  assertInvalid(
    () => Schedule.atTimes(null as unknown as number[]),
    "other",
    /iterable/,
  );
});

Deno.test("cron: from text or a CronSchedule; invalid text is kind cron-expression", () => {
  const fromText = Schedule.cron("0 9 * * *");
  const parsed = CronSchedule.parse("0 9 * * *");
  const fromParsed = Schedule.cron(parsed);
  assert.equal(fromText.kind, "cron");
  if (fromParsed.kind !== "cron") throw new Error("kind");
  assert.equal(fromParsed.cron, parsed);
  assertInvalid(() => Schedule.cron("@reboot"), "cron-expression", /`@reboot`/);
});
