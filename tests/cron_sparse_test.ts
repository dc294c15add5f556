/**
 * Sparse cron patterns (a few days a year, or every four years) jump from one
 * occurrence to the next without walking the days or the daylight-saving
 * segments in between, and still miss none: between two consecutive
 * occurrences no local calendar day matches the day fields, checked day by
 * day with `Intl`.
 */
import assert from "node:assert/strict";
import { CronSchedule } from "../mod.ts";

const DAY = 86_400_000;
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

function localDay(zone: string) {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    year: "numeric",
    month: "numeric",
    day: "numeric",
    weekday: "short",
    hour: "numeric",
    minute: "numeric",
    hourCycle: "h23",
  });
  return (at: number) => {
    const parts = Object.fromEntries(
      format.formatToParts(at).map((part) => [part.type, part.value]),
    );
    return {
      date: `${parts.year}-${parts.month}-${parts.day}`,
      month: Number(parts.month),
      day: Number(parts.day),
      weekday: WEEKDAYS.indexOf(parts.weekday),
      time: `${parts.hour}:${parts.minute}`,
    };
  };
}

const CASES: {
  expression: string;
  time: string;
  days: (d: { month: number; day: number; weekday: number }) => boolean;
}[] = [
  {
    expression: "0 0 29 2 *",
    time: "00:00",
    days: (d) => d.month === 2 && d.day === 29,
  },
  {
    expression: "0 0 13 * FRI",
    time: "00:00",
    days: (d) => d.day === 13 || d.weekday === 5,
  },
  {
    expression: "30 3 31 */2 *",
    time: "03:30",
    days: (d) => d.day === 31 && d.month % 2 === 1,
  },
  {
    expression: "15 12 */10 * 1",
    time: "12:15",
    days: (d) => d.day % 10 === 1 && d.weekday === 1,
  },
];

for (
  const zone of [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Apia",
  ]
) {
  Deno.test(`sparse patterns in ${zone} miss no day and match each one`, () => {
    const local = localDay(zone);
    for (const { expression, time, days } of CASES) {
      const cron = CronSchedule.parse(expression);
      let previous = Date.UTC(2009, 0, 1);
      for (let i = 0; i < 12; i++) {
        const next = cron.nextAfterMs(previous, zone)!;
        const found = local(next);
        assert.ok(days(found), `${expression} ${zone}: ${found.date}`);
        assert.equal(found.time, time, `${expression} ${zone}: ${found.date}`);
        // Every local day strictly between the two occurrences' days.
        const seen = new Set([local(previous).date, found.date]);
        for (let at = previous + DAY / 2; at < next; at += DAY / 2) {
          const day = local(at);
          if (seen.has(day.date)) continue;
          seen.add(day.date);
          assert.ok(
            !days(day),
            `${expression} ${zone}: ${day.date} skipped before ${found.date}`,
          );
        }
        previous = next;
      }
    }
  });
}
