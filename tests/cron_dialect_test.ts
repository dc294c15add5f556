/**
 * The cron dialect is crontab(5)'s: field syntax, names, ranges, steps and
 * nicknames, the day-of-month/day-of-week OR rule, Sunday as 0 and 7, and
 * typed errors for everything outside the dialect.
 */
import assert from "node:assert/strict";
import {
  CronSchedule,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { settle } from "./_engine_helpers.ts";

const UTC = "UTC";

/** The next `count` occurrences in UTC after an ISO instant. */
function upcoming(expression: string, after: string, count: number): string[] {
  const cron = CronSchedule.parse(expression);
  const result: string[] = [];
  let cursor = new Date(after);
  for (let i = 0; i < count; i++) {
    const next = cron.nextAfter(cursor, UTC);
    assert.ok(next);
    result.push(next.toISOString().slice(0, 16));
    cursor = next;
  }
  return result;
}

function assertRejected(expression: string, fragment?: RegExp) {
  assert.throws(
    () => CronSchedule.parse(expression),
    (error: unknown) => {
      assert.ok(
        error instanceof InvalidJobError,
        `${expression}: InvalidJobError`,
      );
      assert.equal(error.kind, "cron-expression");
      assert.ok(
        error.message.includes(`\`${expression}\``),
        `message quotes the expression: ${error.message}`,
      );
      if (fragment) assert.match(error.message, fragment);
      return true;
    },
  );
}

Deno.test("seed: five-field expression parses and keeps its text", () => {
  const cron = CronSchedule.parse("*/15 9-17 * * Mon-Fri");
  assert.equal(cron.expression, "*/15 9-17 * * Mon-Fri");
  assert.equal(cron.toString(), "*/15 9-17 * * Mon-Fri");
  assert.equal(String(Schedule.cron(cron).kind), "cron");
});

Deno.test("seed: 0 9 * * * after 2026-04-03T00:30Z in Shanghai and in UTC", () => {
  const cron = CronSchedule.parse("0 9 * * *");
  const after = new Date("2026-04-03T00:30:00Z");
  assert.equal(
    cron.nextAfter(after, "Asia/Shanghai")?.toISOString(),
    "2026-04-03T01:00:00.000Z",
  );
  assert.equal(
    cron.nextAfter(after, "UTC")?.toISOString(),
    "2026-04-03T09:00:00.000Z",
  );
});

Deno.test("seed: * * * * * after 01:02:00Z is 01:03:00Z, seconds zero", () => {
  const next = CronSchedule.parse("* * * * *").nextAfter(
    new Date("2026-04-03T01:02:00Z"),
    "UTC",
  );
  assert.equal(next?.toISOString(), "2026-04-03T01:03:00.000Z");
  const fromMidMinute = CronSchedule.parse("* * * * *").nextAfter(
    new Date("2026-04-03T01:02:31.250Z"),
    "UTC",
  );
  assert.equal(fromMidMinute?.toISOString(), "2026-04-03T01:03:00.000Z");
});

Deno.test("nextAfter is strictly after its argument", () => {
  const cron = CronSchedule.parse("0 12 * * *");
  const noon = new Date("2026-05-01T12:00:00Z");
  assert.equal(
    cron.nextAfter(noon, UTC)?.toISOString(),
    "2026-05-02T12:00:00.000Z",
  );
  assert.equal(
    cron.nextAfter(new Date(noon.getTime() - 1), UTC)?.toISOString(),
    noon.toISOString(),
  );
});

Deno.test("day-of-week 0 and 7 are both Sunday (POSIX, not Quartz)", () => {
  // 2026-05-03 is a Sunday.
  assert.deepEqual(upcoming("0 0 * * 0", "2026-05-01T00:00Z", 1), [
    "2026-05-03T00:00",
  ]);
  assert.deepEqual(upcoming("0 0 * * 7", "2026-05-01T00:00Z", 1), [
    "2026-05-03T00:00",
  ]);
  assert.deepEqual(upcoming("0 0 * * 0,7", "2026-05-01T00:00Z", 2), [
    "2026-05-03T00:00",
    "2026-05-10T00:00",
  ]);
  // 1-5 is Monday to Friday.
  assert.deepEqual(upcoming("0 0 * * 1-5", "2026-05-01T12:00Z", 3), [
    "2026-05-04T00:00",
    "2026-05-05T00:00",
    "2026-05-06T00:00",
  ]);
});

Deno.test("names are case-insensitive; SUN ends a range as 7", () => {
  assert.deepEqual(
    upcoming("0 0 1 jan,Mar *", "2026-01-02T00:00Z", 2),
    ["2026-03-01T00:00", "2027-01-01T00:00"],
  );
  assert.deepEqual(upcoming("0 0 * * sat-sun", "2026-05-01T00:00Z", 2), [
    "2026-05-02T00:00",
    "2026-05-03T00:00",
  ]);
  assert.deepEqual(upcoming("0 0 * * FRI-SUN", "2026-05-03T12:00Z", 1), [
    "2026-05-08T00:00",
  ]);
  assert.deepEqual(upcoming("0 0 * * MON-SUN", "2026-05-03T12:00Z", 2), [
    "2026-05-04T00:00",
    "2026-05-05T00:00",
  ]);
});

Deno.test("day-of-month OR day-of-week when both are restricted", () => {
  // The 13th, or any Friday: 2026-02-06 and 02-13 (both), 02-20 ...
  assert.deepEqual(upcoming("0 0 13 * FRI", "2026-02-01T00:00Z", 4), [
    "2026-02-06T00:00",
    "2026-02-13T00:00",
    "2026-02-20T00:00",
    "2026-02-27T00:00",
  ]);
  assert.deepEqual(upcoming("0 0 1,15 * 3", "2026-04-01T12:00Z", 3), [
    "2026-04-08T00:00",
    "2026-04-15T00:00",
    "2026-04-22T00:00",
  ]);
});

Deno.test("day-of-month AND day-of-week when one starts with *", () => {
  // Odd days that are Mondays: 2026-06-01, 06-15, 06-29.
  assert.deepEqual(upcoming("0 0 */2 * MON", "2026-05-31T00:00Z", 3), [
    "2026-06-01T00:00",
    "2026-06-15T00:00",
    "2026-06-29T00:00",
  ]);
  // Even weekdays (Sun, Tue, Thu, Sat) on the 1st: 2026-02-01 is a Sunday.
  assert.deepEqual(upcoming("0 0 1 * */2", "2026-01-02T00:00Z", 1), [
    "2026-02-01T00:00",
  ]);
  // Plain * on both: every day.
  assert.deepEqual(upcoming("0 0 * * *", "2026-01-31T12:00Z", 2), [
    "2026-02-01T00:00",
    "2026-02-02T00:00",
  ]);
});

Deno.test("ranges, steps and lists", () => {
  assert.deepEqual(upcoming("5-59/20 * * * *", "2026-01-01T00:00Z", 4), [
    "2026-01-01T00:05",
    "2026-01-01T00:25",
    "2026-01-01T00:45",
    "2026-01-01T01:05",
  ]);
  assert.deepEqual(upcoming("0 8-18/5 * * *", "2026-01-01T00:00Z", 4), [
    "2026-01-01T08:00",
    "2026-01-01T13:00",
    "2026-01-01T18:00",
    "2026-01-02T08:00",
  ]);
  assert.deepEqual(upcoming("0,30 9,21 * * *", "2026-01-01T10:00Z", 3), [
    "2026-01-01T21:00",
    "2026-01-01T21:30",
    "2026-01-02T09:00",
  ]);
  // A step larger than the field keeps its first value.
  assert.deepEqual(upcoming("*/100 0 * * *", "2026-01-01T00:00Z", 1), [
    "2026-01-02T00:00",
  ]);
  // Month-end and leap days.
  assert.deepEqual(upcoming("0 0 31 * *", "2026-01-31T12:00Z", 2), [
    "2026-03-31T00:00",
    "2026-05-31T00:00",
  ]);
  assert.deepEqual(upcoming("0 0 29 2 *", "2026-01-01T00:00Z", 2), [
    "2028-02-29T00:00",
    "2032-02-29T00:00",
  ]);
  // 2100 is not a leap year.
  assert.deepEqual(upcoming("0 0 29 2 *", "2097-01-01T00:00Z", 1), [
    "2104-02-29T00:00",
  ]);
});

Deno.test("a step on a single value runs to the end of the field: 5/15 is 5-59/15", () => {
  assert.deepEqual(upcoming("5/15 * * * *", "2026-01-01T00:00Z", 5), [
    "2026-01-01T00:05",
    "2026-01-01T00:20",
    "2026-01-01T00:35",
    "2026-01-01T00:50",
    "2026-01-01T01:05",
  ]);
  const same = (a: string, b: string) =>
    assert.deepEqual(
      upcoming(a, "2026-01-01T00:00Z", 40),
      upcoming(b, "2026-01-01T00:00Z", 40),
      `${a} = ${b}`,
    );
  same("5/15 * * * *", "5-59/15 * * * *");
  same("0 3/7 * * *", "0 3-23/7 * * *");
  same("0 0 10/9 * *", "0 0 10-31/9 * *");
  same("0 0 1 FEB/5 *", "0 0 1 2-12/5 *");
  same("0 0 1 11/3 *", "0 0 1 11 *");
  // In a list, next to other items; a step bigger than the rest of the field.
  same("0,5/30 * * * *", "0,5,35 * * * *");
  same("58/5 * * * *", "58 * * * *");
});

Deno.test("day-of-week a/s counts in 0-7, so it can reach 7 = Sunday", () => {
  // 2026-05-04 is a Monday. MON/2 = 1-7/2 = Mon, Wed, Fri and Sun (7).
  assert.deepEqual(upcoming("0 0 * * MON/2", "2026-05-03T12:00Z", 5), [
    "2026-05-04T00:00",
    "2026-05-06T00:00",
    "2026-05-08T00:00",
    "2026-05-10T00:00",
    "2026-05-11T00:00",
  ]);
  assert.deepEqual(
    upcoming("0 0 * * 1/2", "2026-05-03T12:00Z", 8),
    upcoming("0 0 * * 1,3,5,7", "2026-05-03T12:00Z", 8),
  );
  // SUN starts a step as 0: Sun, Tue, Thu, Sat — like */2.
  assert.deepEqual(
    upcoming("0 0 * * SUN/2", "2026-05-03T12:00Z", 8),
    upcoming("0 0 * * */2", "2026-05-03T12:00Z", 8),
  );
  // 7/s and SAT/2 stay on one day: 7 is the last value, 6 + 2 is past it.
  assert.deepEqual(upcoming("0 0 * * 7/3", "2026-05-03T12:00Z", 2), [
    "2026-05-10T00:00",
    "2026-05-17T00:00",
  ]);
  assert.deepEqual(upcoming("0 0 * * SAT/2", "2026-05-03T12:00Z", 2), [
    "2026-05-09T00:00",
    "2026-05-16T00:00",
  ]);
});

Deno.test("a/s does not start with *: day fields OR, and fixed-time DST rules", () => {
  // 1/10 = 1, 11, 21, 31; with FRI that is "either" (both restricted).
  assert.deepEqual(upcoming("0 0 1/10 * FRI", "2026-05-01T12:00Z", 4), [
    "2026-05-08T00:00",
    "2026-05-11T00:00",
    "2026-05-15T00:00",
    "2026-05-21T00:00",
  ]);
  assert.equal(CronSchedule.parse("5/15 2 * * *").fixedTime, true);
  assert.equal(CronSchedule.parse("5/15 * * * *").fixedTime, false);
  assert.equal(CronSchedule.parse("0 2/3 * * *").fixedTime, true);
});

Deno.test("a job on 5/15 * * * * fires at :05, :20, :35 and :50", async () => {
  const start = Date.UTC(2026, 0, 1, 0, 0, 0);
  await withFakeClock(start, async (clock) => {
    const fired: string[] = [];
    const job = Job.withoutDeps(
      "quarter-past-five",
      Schedule.cron("5/15 * * * *"),
      Task.fromSync(({ run }) => {
        fired.push(run.scheduledAt.toISOString().slice(11, 16));
        assert.equal(Date.now(), run.scheduledAt.getTime(), "on time");
      }),
    ).withMaxRuns(5);
    const report = await settle(
      clock,
      new Scheduler({ timezone: "UTC" }, new InMemoryStateStore()).run(job),
    );
    assert.deepEqual(fired, ["00:05", "00:20", "00:35", "00:50", "01:05"]);
    assert.equal(report.history.length, 5);
  });
});

Deno.test("nicknames", () => {
  const after = "2026-05-06T10:17Z"; // a Wednesday
  assert.deepEqual(upcoming("@yearly", after, 1), ["2027-01-01T00:00"]);
  assert.deepEqual(upcoming("@annually", after, 1), ["2027-01-01T00:00"]);
  assert.deepEqual(upcoming("@monthly", after, 1), ["2026-06-01T00:00"]);
  assert.deepEqual(upcoming("@weekly", after, 1), ["2026-05-10T00:00"]);
  assert.deepEqual(upcoming("@daily", after, 1), ["2026-05-07T00:00"]);
  assert.deepEqual(upcoming("@midnight", after, 1), ["2026-05-07T00:00"]);
  assert.deepEqual(upcoming("@hourly", after, 1), ["2026-05-06T11:00"]);
  assert.equal(CronSchedule.parse("@hourly").expression, "@hourly");
});

Deno.test("whitespace between fields is free; surrounding blanks are trimmed", () => {
  assert.deepEqual(upcoming("  0\t9  * *   *  ", "2026-01-01T00:00Z", 1), [
    "2026-01-01T09:00",
  ]);
});

Deno.test("rejected: wrong field counts, seconds and year fields", () => {
  assertRejected("* * * *", /expected 5 fields.*got 4/);
  assertRejected("* * *", /got 3/);
  assertRejected("0 */5 * * * *", /got 6/);
  assertRejected("0 0 0 1 1 * 2026", /got 7/);
  assertRejected("", /empty/);
  assertRejected("   ", /empty/);
});

Deno.test("rejected: @reboot and unknown nicknames", () => {
  assertRejected("@reboot", /unsupported nickname/);
  assertRejected("@every 5m");
  assertRejected("@weekdays");
});

Deno.test("rejected: out-of-range values name the field and the value", () => {
  assertRejected("60 * * * *", /minute field `60`: 60 is out of range 0-59/);
  assertRejected("0 24 * * *", /hour field/);
  assertRejected("0 0 0 * *", /day-of-month field `0`: 0 is out of range 1-31/);
  assertRejected("0 0 32 * *", /day-of-month/);
  assertRejected("0 0 * 0 *", /month field/);
  assertRejected("0 0 * 13 *", /month field/);
  assertRejected("0 0 * * 8", /day-of-week field `8`: 8 is out of range 0-7/);
  assertRejected("99999999999999999999 * * * *", /out of range/);
});

Deno.test("rejected: syntax outside the dialect", () => {
  for (
    const expression of [
      "0 0 ? * *",
      "0 0 L * *",
      "0 0 15W * *",
      "0 0 * * MON#2",
      "0 0 * * 5L",
      "H * * * *",
      "-1 * * * *",
      "1-2-3 * * * *",
      "1,,2 * * * *",
      ",1 * * * *",
      "*/ * * * *",
      "*/0 * * * *",
      "*/-1 * * * *",
      "*/x * * * *",
      "5/ * * * *",
      "5/0 * * * *",
      "MON/x * * * *",
      "5/10/2 * * * *",
      "5-1 * * * *",
      "0 0 * * FRI-MON",
      "0 0 * JANUARY *",
      "0 0 * * MONDAY",
      "0 0 * MON *",
      "0 0 * * JAN",
      "0 0 1.5 * *",
      "0 0 * * 1 extra",
      "** * * * *",
      "0 0 \u0661 * *",
    ]
  ) {
    assertRejected(expression);
  }
});

Deno.test("rejected: expressions that can never match", () => {
  assertRejected("0 0 30 2 *", /never match/);
  assertRejected("0 0 31 4,6,9,11 *", /never match/);
  assertRejected("0 0 30,31 2 */2", /never match/);
  // OR rule: any Monday of February matches, so this one is fine.
  CronSchedule.parse("0 0 30 2 MON");
  // Feb 29 exists in leap years.
  CronSchedule.parse("0 0 29 2 *");
});

Deno.test("rejected: non-string input gets a typed error", () => {
  assert.throws(
    () => CronSchedule.parse(42 as unknown as string),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "cron-expression",
  );
});

Deno.test("fixed-time versus wildcard classification", () => {
  assert.equal(CronSchedule.parse("30 2 * * *").fixedTime, true);
  assert.equal(CronSchedule.parse("0-59 2 * * *").fixedTime, true);
  assert.equal(CronSchedule.parse("@daily").fixedTime, true);
  assert.equal(CronSchedule.parse("*/15 * * * *").fixedTime, false);
  assert.equal(CronSchedule.parse("0 */2 * * *").fixedTime, false);
  assert.equal(CronSchedule.parse("@hourly").fixedTime, false);
});

Deno.test("nextAfter rejects an unknown zone, a bad dst policy and an invalid instant", () => {
  const cron = CronSchedule.parse("* * * * *");
  assert.throws(
    () => cron.nextAfter(new Date(0), "Mars/Olympus_Mons"),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "timezone" &&
      error.message.includes("Mars/Olympus_Mons"),
  );
  assert.throws(
    () => cron.nextAfter(new Date(0), "UTC", { gap: "later" } as never),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "other" &&
      error.message.includes('"later"'),
  );
  assert.throws(
    () => cron.nextAfter(new Date(Number.NaN), "UTC"),
    (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "other",
  );
});

Deno.test("nextAfter ends at the Date range instead of looping", () => {
  const cron = CronSchedule.parse("0 0 1 1 *");
  assert.equal(cron.nextAfter(new Date(8.64e15 - 1), "UTC"), undefined);
  assert.equal(
    cron.nextAfter(new Date(8.64e15 - 1), "America/New_York"),
    undefined,
  );
});

Deno.test("fields are separated by spaces and tabs only", () => {
  assert.equal(CronSchedule.parse("0\t9 * * *\n").expression, "0\t9 * * *\n");
  assertRejected("0\n9 * * *");
  assertRejected("0\u00a09 * * * *");
});

Deno.test("no occurrence past 9999-12-31: nextAfter gives undefined, nextRuns stops there", () => {
  const cron = CronSchedule.parse("0 3 * * *");
  assert.equal(cron.nextAfter(new Date("9999-12-31T23:59:59Z")), undefined);
  assert.equal(
    cron.nextAfter(new Date("9999-12-30T12:00:00Z"))?.toISOString(),
    "9999-12-31T03:00:00.000Z",
  );
  // In a zone west of UTC the last local 03:00 is after the limit.
  assert.equal(
    cron.nextAfter(new Date("9999-12-31T12:00:00Z"), "America/Los_Angeles"),
    undefined,
  );
  assert.deepEqual(
    cron.nextRuns(5, new Date("9999-12-29T12:00:00Z")).map((at) =>
      at.toISOString()
    ),
    ["9999-12-30T03:00:00.000Z", "9999-12-31T03:00:00.000Z"],
  );
});
