/**
 * Property test of cron evaluation against an independent oracle: field sets
 * from cron-parser, local times from Intl, and a minute-by-minute walk of the
 * timeline. Fields mix values, names, ranges and steps on `*`, on ranges and
 * on single values (`a/s`). For 2 000 random (expression, zone, start, dst
 * rules) cases: occurrences strictly increase, each matches the expression in
 * local time (or is a documented gap shift), and no instant between two
 * consecutive occurrences should have fired.
 */
import assert from "node:assert/strict";
import { CronExpressionParser } from "cron-parser";
import { CronSchedule, type DstPolicy } from "../mod.ts";
import { Random, testSeed } from "./_random.ts";

const MINUTE = 60_000;
const ZONES = [
  "America/New_York",
  "Europe/London",
  "Europe/Berlin",
  "America/Santiago",
  "America/Sao_Paulo",
  "Africa/Cairo",
  "Australia/Lord_Howe",
  "Pacific/Chatham",
  "America/St_Johns",
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "UTC",
];
const POLICIES: (DstPolicy | undefined)[] = [
  undefined,
  undefined,
  { gap: "shift" },
  { gap: "skip" },
  { overlap: "first" },
  { overlap: "both" },
  { gap: "skip", overlap: "first" },
  { gap: "shift", overlap: "both" },
];

interface Fields {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  either: boolean;
  fixed: boolean;
}

interface Wall {
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
}

/** Field sets from cron-parser; the day rule and DST class from the text. */
function oracleFields(expression: string): Fields | undefined {
  let parsed;
  try {
    parsed = CronExpressionParser.parse(expression).fields;
  } catch {
    return undefined; // cron-parser's own quirks (e.g. "0,7"): draw again
  }
  const texts = expression.split(" ");
  const numbers = (values: readonly unknown[]) =>
    new Set(values.filter((v): v is number => typeof v === "number"));
  return {
    minutes: numbers(parsed.minute.values),
    hours: numbers(parsed.hour.values),
    days: numbers(parsed.dayOfMonth.values),
    months: numbers(parsed.month.values),
    weekdays: new Set([...numbers(parsed.dayOfWeek.values)].map((d) => d % 7)),
    either: !texts[2].startsWith("*") && !texts[4].startsWith("*"),
    fixed: !texts[0].startsWith("*") && !texts[1].startsWith("*"),
  };
}

function dayMatches(fields: Fields, wall: Wall): boolean {
  const byDay = fields.days.has(wall.day);
  const byWeekday = fields.weekdays.has(wall.weekday);
  return fields.months.has(wall.month) &&
    (fields.either ? byDay || byWeekday : byDay && byWeekday);
}

function wallMatches(fields: Fields, wall: Wall): boolean {
  return dayMatches(fields, wall) && fields.hours.has(wall.hour) &&
    fields.minutes.has(wall.minute);
}

function wallOfUtcFields(ms: number): Wall {
  const date = new Date(ms);
  return {
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    weekday: date.getUTCDay(),
  };
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LOCAL_TEXT = /^(\w{3}), (\d+)\/(\d+)\/(-?\d+), (\d{2}):(\d{2})$/;

/** Local time of instants in one zone, straight from Intl. */
class Clock {
  readonly #format: Intl.DateTimeFormat;
  readonly #offsets = new Map<number, number>();
  constructor(zone: string) {
    this.#format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      weekday: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
  }
  /** Local wall time of a minute-aligned instant, and its offset. */
  local(ms: number): Wall & { offset: number } {
    const match = LOCAL_TEXT.exec(this.#format.format(ms));
    assert.ok(match, `Intl output for ${ms}`);
    const [, weekday, month, day, year, hour, minute] = match;
    const wallMs = Date.UTC(
      Number(year),
      Number(month) - 1,
      Number(day),
      Number(hour),
      Number(minute),
    );
    return {
      month: Number(month),
      day: Number(day),
      hour: Number(hour),
      minute: Number(minute),
      weekday: WEEKDAYS.indexOf(weekday),
      offset: wallMs - ms,
    };
  }
  offset(ms: number): number {
    let offset = this.#offsets.get(ms);
    if (offset === undefined) {
      offset = this.local(ms).offset;
      this.#offsets.set(ms, offset);
    }
    return offset;
  }
}

class Oracle {
  constructor(
    readonly fields: Fields,
    readonly clock: Clock,
    readonly gap: "shift" | "skip",
    readonly overlap: "first" | "both",
  ) {}

  /** Whether the wall time at `ms` was already lived through (fall back). */
  repeated(ms: number, wallMs: number): boolean {
    const offset = this.clock.offset(ms);
    for (let back = 15; back <= 240; back += 15) {
      const earlierOffset = this.clock.offset(ms - back * MINUTE);
      if (earlierOffset <= offset) continue;
      const earlier = wallMs - earlierOffset;
      if (earlier < ms && this.clock.offset(earlier) === earlierOffset) {
        return true;
      }
    }
    return false;
  }

  /** Whether a gap starts at `ms` that swallowed a matching local time. */
  shiftedGapAt(ms: number): boolean {
    const before = this.clock.offset(ms - MINUTE);
    const after = this.clock.offset(ms);
    if (after <= before) return false;
    for (let wall = ms + before; wall < ms + after; wall += MINUTE) {
      if (wallMatches(this.fields, wallOfUtcFields(wall))) return true;
    }
    return false;
  }

  /** Whether the rules say the cron fires at the minute-aligned `ms`. */
  fires(ms: number): boolean {
    if (this.gap === "shift" && this.shiftedGapAt(ms)) return true;
    const local = this.clock.local(ms);
    if (!wallMatches(this.fields, local)) return false;
    return !(this.overlap === "first" && this.repeated(ms, ms + local.offset));
  }

  /**
   * The first minute in (from, until) at which the rules fire, or undefined.
   * Skips to the next local day or hour when the current one cannot match,
   * but only when the offset is the same on landing (so no transition, and
   * no gap shift, is jumped over).
   */
  firstFiringBetween(from: number, until: number): number | undefined {
    let ms = Math.floor(from / MINUTE) * MINUTE + MINUTE;
    while (ms < until) {
      const local = this.clock.local(ms);
      let jump = 0;
      if (!dayMatches(this.fields, local)) {
        jump = (24 * 60 - (local.hour * 60 + local.minute)) * MINUTE;
      } else if (!this.fields.hours.has(local.hour)) {
        jump = (60 - local.minute) * MINUTE;
      }
      if (jump > MINUTE && this.clock.offset(ms + jump) === local.offset) {
        if (this.fires(ms)) return ms;
        ms += jump;
        continue;
      }
      if (this.fires(ms)) return ms;
      ms += MINUTE;
    }
    return undefined;
  }
}

function randomField(
  random: Random,
  min: number,
  max: number,
  starWeight: number,
  names?: readonly string[],
): string {
  const value = () => {
    const n = random.int(min, max);
    return names && random.chance(0.3) ? names[n - min] : String(n);
  };
  const range = () => {
    const a = random.int(min, max);
    const b = random.int(a, max);
    return `${a}-${b}`;
  };
  const roll = random.next();
  if (roll < starWeight) return "*";
  if (roll < starWeight + 0.15) {
    return `*/${random.int(1, Math.max(2, (max - min) / 2))}`;
  }
  const item = () => {
    const kind = random.int(0, 3);
    if (kind === 0) return value();
    if (kind === 1) return range();
    // `a/s`: cron-parser reads it as `a-max/s`, max 7 in day-of-week.
    if (kind === 2) return `${value()}/${random.int(1, 5)}`;
    return `${range()}/${random.int(1, 5)}`;
  };
  const count = random.int(1, 3);
  return Array.from({ length: count }, item).join(",");
}

const MONTH_NAMES = [
  "JAN",
  "FEB",
  "MAR",
  "APR",
  "MAY",
  "JUN",
  "JUL",
  "AUG",
  "SEP",
  "OCT",
  "NOV",
  "DEC",
];
const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

function randomExpression(random: Random): string {
  return [
    randomField(random, 0, 59, 0.3),
    randomField(random, 0, 23, 0.45),
    randomField(random, 1, 31, 0.75),
    randomField(random, 1, 12, 0.85, MONTH_NAMES),
    randomField(random, 0, 6, 0.7, DAY_NAMES),
  ].join(" ");
}

/** Offset transitions of a zone in a year, found with Intl. */
function transitionsIn(clock: Clock, year: number): number[] {
  const found: number[] = [];
  const step = 6 * 3_600_000;
  let previous = Date.UTC(year, 0, 1);
  for (let at = previous + step; at <= Date.UTC(year + 1, 0, 1); at += step) {
    if (clock.offset(at) !== clock.offset(previous)) {
      let low = previous;
      let high = at;
      while (high - low > MINUTE) {
        const middle = low + Math.floor((high - low) / 2 / MINUTE) * MINUTE;
        if (clock.offset(middle) === clock.offset(previous)) low = middle;
        else high = middle;
      }
      found.push(high);
    }
    previous = at;
  }
  return found;
}

Deno.test("property: 2 000 random cron cases agree with the minute-by-minute oracle", () => {
  const random = new Random(testSeed(7_2026));
  const clocks = new Map(ZONES.map((zone) => [zone, new Clock(zone)]));
  let cases = 0;
  let singleValueSteps = 0;
  let nearTransition = 0;
  let occurrencesChecked = 0;
  while (cases < 2000) {
    const expression = randomExpression(random);
    const fields = oracleFields(expression);
    let cron: CronSchedule;
    try {
      cron = CronSchedule.parse(expression);
    } catch {
      continue; // never-matching expressions are rejected by design
    }
    if (fields === undefined) continue;
    if (/(^|[ ,])[0-9A-Z]+\//.test(expression)) singleValueSteps++;
    const zone = random.pick(ZONES);
    const clock = clocks.get(zone)!;
    const dst = random.pick(POLICIES);
    const oracle = new Oracle(
      fields,
      clock,
      dst?.gap ?? (fields.fixed ? "shift" : "skip"),
      dst?.overlap ?? (fields.fixed ? "first" : "both"),
    );
    const year = random.int(2000, 2039);
    const transitions = transitionsIn(clock, year);
    let start: number;
    if (transitions.length > 0 && random.chance(0.6)) {
      start = random.pick(transitions) - random.int(0, 36 * 60) * MINUTE -
        random.int(0, MINUTE - 1);
      nearTransition++;
    } else {
      start = Date.UTC(year, 0, 1) + random.int(0, 364 * 24 * 60) * MINUTE;
    }
    const label =
      `seed ${random.seed} case ${cases}: \`${expression}\` in ${zone} ${
        JSON.stringify(dst ?? {})
      } after ${new Date(start).toISOString()}`;

    let previous = start;
    const count =
      fields.either || fields.days.size < 31 || fields.months.size < 12 ? 2 : 4;
    for (let i = 0; i < count; i++) {
      const next = cron.nextAfter(new Date(previous), zone, dst)?.getTime();
      assert.ok(
        next !== undefined,
        `${label}: an occurrence after ${new Date(previous).toISOString()}`,
      );
      assert.ok(next > previous, `${label}: strictly increasing`);
      assert.ok(
        oracle.fires(next),
        `${label}: ${
          new Date(next).toISOString()
        } does not match in local time and is not a gap shift`,
      );
      const missed = oracle.firstFiringBetween(previous, next);
      assert.equal(
        missed,
        undefined,
        `${label}: ${
          missed && new Date(missed).toISOString()
        } should have fired before ${new Date(next).toISOString()}`,
      );
      occurrencesChecked++;
      previous = next;
    }
    cases++;
  }
  assert.ok(
    nearTransition > 500,
    `enough cases start near a transition (${nearTransition})`,
  );
  assert.ok(occurrencesChecked >= 4000);
  assert.ok(
    singleValueSteps > 300,
    `enough cases use a step on a single value (${singleValueSteps})`,
  );
});
