/**
 * What a cron expression means: the crontab(5) dialect parsed into per-field
 * tables. Parsing is strict; anything outside the dialect is rejected with an
 * {@linkcode InvalidJobError} of kind `cron-expression` that quotes the text.
 *
 * The dialect: five fields (minute 0–59, hour 0–23, day-of-month 1–31, month
 * 1–12 or `JAN`–`DEC`, day-of-week 0–7 or `SUN`–`SAT` with 0 and 7 both Sunday);
 * each field a comma list of `*`, `n`, `a-b`, `* /s`, `a-b/s` or `a/s` (which
 * is `a-max/s` in the field's own range, max 7 in day-of-week); the nicknames
 * `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import { maxDaysInMonth } from "./_civil.ts";

/** A parsed cron expression; every table is indexed by the field's value. */
export interface CronPattern {
  /** 60 entries; 1 where the minute matches. */
  readonly minutes: Uint8Array;
  /** 24 entries. */
  readonly hours: Uint8Array;
  /** 32 entries, index 1–31. */
  readonly daysOfMonth: Uint8Array;
  /** 13 entries, index 1–12. */
  readonly months: Uint8Array;
  /** 7 entries, 0 = Sunday. */
  readonly daysOfWeek: Uint8Array;
  /** For each minute, the first matching minute at or after it, or -1. */
  readonly nextMinute: Int8Array;
  /** For each hour, the first matching hour at or after it, or -1. */
  readonly nextHour: Int8Array;
  /** For each month 1–12, the first matching month at or after it, or -1. */
  readonly nextMonth: Int8Array;
  /** For each day 1–31, the first matching day-of-month at or after it, or -1. */
  readonly nextDayOfMonth: Int8Array;
  /**
   * For each weekday 0–6, how many days until a matching weekday (0 when it
   * matches itself), or -1 when no weekday matches.
   */
  readonly daysToWeekday: Int8Array;
  /**
   * Whether a day must match day-of-month **or** day-of-week (neither field
   * starts with `*`) rather than both (Vixie cron's rule).
   */
  readonly dayMatchesEither: boolean;
  /**
   * Neither the minute nor the hour field starts with `*`: cron(8) treats the
   * expression as a fixed local time for daylight-saving purposes.
   */
  readonly fixedTime: boolean;
}

const NICKNAMES: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

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
const WEEKDAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names and the value each stands for. */
  readonly names?: readonly string[];
  readonly nameOffset?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTH_NAMES, nameOffset: 1 },
  // 7 is Sunday too; it is folded onto 0 after expansion.
  { name: "day-of-week", min: 0, max: 7, names: WEEKDAY_NAMES, nameOffset: 0 },
];

const ITEM = /^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/([0-9A-Za-z]*))?$/;

/** Builds the error every rejection uses, quoting the whole expression. */
function cronError(expression: string, reason: string): InvalidJobError {
  return new InvalidJobError(
    `invalid cron expression \`${expression}\`: ${reason}`,
    { kind: InvalidJobKind.CronExpression },
  );
}

/**
 * Parses a crontab(5) expression (or nickname).
 *
 * @throws {InvalidJobError} kind `cron-expression`, quoting the expression.
 */
export function parseCronPattern(expression: string): CronPattern {
  if (typeof expression !== "string") {
    throw cronError(
      describeValue(expression),
      "the expression must be a string",
    );
  }
  const trimmed = expression.trim();
  if (trimmed === "") throw cronError(expression, "the expression is empty");
  let body = trimmed;
  if (trimmed.startsWith("@")) {
    const nickname = NICKNAMES[trimmed.toLowerCase()];
    if (nickname === undefined) {
      throw cronError(
        expression,
        `unsupported nickname ${trimmed} (supported: ${
          Object.keys(NICKNAMES).join(" ")
        })`,
      );
    }
    body = nickname;
  }
  // Fields are separated by spaces or tabs, as in a crontab line.
  const texts = body.split(/[ \t]+/);
  if (texts.length !== 5) {
    throw cronError(
      expression,
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${texts.length}`,
    );
  }
  const sets = texts.map((text, index) =>
    parseField(expression, text, FIELDS[index])
  );
  const [minutes, hours, daysOfMonth, months, weekdaysWithSeven] = sets;
  const daysOfWeek = new Uint8Array(7);
  for (let day = 0; day <= 7; day++) {
    if (weekdaysWithSeven[day]) daysOfWeek[day % 7] = 1;
  }
  const dayOfMonthStar = texts[2].startsWith("*");
  const dayOfWeekStar = texts[4].startsWith("*");
  const pattern: CronPattern = {
    minutes,
    hours,
    daysOfMonth,
    months,
    daysOfWeek,
    nextMinute: nextTable(minutes, 0),
    nextHour: nextTable(hours, 0),
    nextMonth: nextTable(months, 1),
    nextDayOfMonth: nextTable(daysOfMonth, 1),
    daysToWeekday: distanceTable(daysOfWeek),
    dayMatchesEither: !dayOfMonthStar && !dayOfWeekStar,
    fixedTime: !texts[0].startsWith("*") && !texts[1].startsWith("*"),
  };
  if (!pattern.dayMatchesEither && !someMonthHasADay(pattern)) {
    throw cronError(
      expression,
      "it can never match: no selected day-of-month exists in any selected month",
    );
  }
  return pattern;
}

function parseField(
  expression: string,
  text: string,
  spec: FieldSpec,
): Uint8Array {
  const set = new Uint8Array(spec.max + 1);
  for (const item of text.split(",")) {
    const match = ITEM.exec(item);
    if (match === null) {
      throw cronError(
        expression,
        `${spec.name} field \`${text}\`: \`${item}\` is not a number, name, range, step or \`*\``,
      );
    }
    const [, base, stepText] = match;
    let from = spec.min;
    let to = spec.max;
    if (base !== "*") {
      const [startText, endText] = base.split("-");
      from = parseValue(expression, spec, text, startText, false);
      to = endText === undefined
        ? from
        : parseValue(expression, spec, text, endText, true);
      if (from > to) {
        throw cronError(
          expression,
          `${spec.name} field \`${text}\`: range ${base} runs backwards`,
        );
      }
    }
    let step = 1;
    if (stepText !== undefined) {
      // `a/s` is `a-max/s` in the field's own range (cronie, cron-parser):
      // in day-of-week max is 7, so `MON/2` is Mon, Wed, Fri and Sun (7).
      if (base !== "*" && !base.includes("-")) to = spec.max;
      if (!/^[0-9]+$/.test(stepText) || Number(stepText) === 0) {
        throw cronError(
          expression,
          `${spec.name} field \`${text}\`: step \`${stepText}\` must be a whole number of at least 1`,
        );
      }
      step = Number(stepText);
    }
    for (let value = from; value <= to; value += step) set[value] = 1;
  }
  return set;
}

function parseValue(
  expression: string,
  spec: FieldSpec,
  fieldText: string,
  text: string,
  endOfRange: boolean,
): number {
  if (/^[0-9]+$/.test(text)) {
    const value = Number(text);
    if (value < spec.min || value > spec.max) {
      throw cronError(
        expression,
        `${spec.name} field \`${fieldText}\`: ${text} is out of range ${spec.min}-${spec.max}`,
      );
    }
    return value;
  }
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (index < 0) {
    const allowed = spec.names
      ? `a number ${spec.min}-${spec.max} or a name ${spec.names[0]}-${
        spec.names[spec.names.length - 1]
      }`
      : `a number ${spec.min}-${spec.max}`;
    throw cronError(
      expression,
      `${spec.name} field \`${fieldText}\`: \`${text}\` is not ${allowed}`,
    );
  }
  // `MON-SUN` reads naturally as Monday through Sunday: SUN ends a range as 7.
  if (endOfRange && spec.names === WEEKDAY_NAMES && index === 0) return 7;
  return index + (spec.nameOffset ?? 0);
}

function nextTable(set: Uint8Array, first: number): Int8Array {
  const table = new Int8Array(set.length + 1).fill(-1);
  for (let value = set.length - 1; value >= first; value--) {
    table[value] = set[value] ? value : table[value + 1];
  }
  return table;
}

function distanceTable(weekdays: Uint8Array): Int8Array {
  const table = new Int8Array(7).fill(-1);
  for (let weekday = 0; weekday < 7; weekday++) {
    for (let ahead = 0; ahead < 7; ahead++) {
      if (weekdays[(weekday + ahead) % 7]) {
        table[weekday] = ahead;
        break;
      }
    }
  }
  return table;
}

/** Whether some selected day-of-month exists in some selected month. */
function someMonthHasADay(pattern: CronPattern): boolean {
  for (let month = 1; month <= 12; month++) {
    if (!pattern.months[month]) continue;
    for (let day = 1; day <= maxDaysInMonth(month); day++) {
      if (pattern.daysOfMonth[day]) return true;
    }
  }
  return false;
}
