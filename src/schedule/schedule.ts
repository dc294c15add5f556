/**
 * The three kinds of schedule and their validating constructors.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import { parseRfc3339 } from "./_rfc3339.ts";
import { isStorableMs, MAX_DATE_MS } from "./_civil.ts";
import { CronSchedule } from "./cron_schedule.ts";
import { type DstPolicy, validateDstPolicy } from "./dst_policy.ts";
import { listOccurrences, startOfListing } from "./_next_runs.ts";
import { occurrenceAfter } from "./_occurrences.ts";
import { validateTimeZone } from "./_time_zone.ts";
import { checkOptions } from "../_options.ts";

/**
 * When a job fires.
 *
 * - `interval`: every `everyMs` milliseconds; the first run at start + `everyMs`,
 *   later ones at the previous *scheduled* time + `everyMs` (fixed rate).
 * - `at-times`: at each listed instant (sorted, duplicates removed).
 * - `cron`: at each match of a crontab(5) expression in the scheduler's zone.
 *
 * Build one with {@linkcode Schedule.interval}, {@linkcode Schedule.atTimes}
 * or {@linkcode Schedule.cron}.
 *
 * @example
 * ```ts
 * import { Schedule } from "@cloudiful/scheduler";
 * const schedule = Schedule.cron("0 9 * * MON-FRI");
 * console.log(schedule.kind); // cron
 * ```
 */
export type Schedule =
  | { readonly kind: "interval"; readonly everyMs: number }
  | { readonly kind: "at-times"; readonly times: readonly Date[] }
  | { readonly kind: "cron"; readonly cron: CronSchedule };

const ownSchedules = new WeakSet<Schedule>();

/** Whether a schedule was built (and so validated) by {@linkcode Schedule}. */
export function isOwnSchedule(schedule: unknown): boolean {
  return typeof schedule === "object" && schedule !== null &&
    ownSchedules.has(schedule as Schedule);
}

function own(schedule: Schedule): Schedule {
  ownSchedules.add(schedule);
  return schedule;
}

function intervalSchedule(everyMs: number): Schedule {
  if (everyMs === 0) {
    throw new InvalidJobError(
      "interval schedule must be greater than zero, got 0 ms",
      { kind: InvalidJobKind.ZeroInterval },
    );
  }
  if (
    typeof everyMs !== "number" || !Number.isInteger(everyMs) ||
    everyMs < 0 || everyMs > MAX_DATE_MS
  ) {
    // Fractions are refused too: instants are whole milliseconds, and a
    // fractional period would drift against the stored scheduled times.
    throw new InvalidJobError(
      `interval schedule must be a whole number of milliseconds between 1 and ${MAX_DATE_MS} (the Date range), got ${
        describeValue(everyMs)
      }`,
      { kind: InvalidJobKind.IntervalOutOfRange },
    );
  }
  return own(Object.freeze({ kind: "interval", everyMs }));
}

function toInstant(value: Date | number | string, index: number): Date {
  let instant: Date;
  if (value instanceof Date) {
    instant = new Date(value.getTime());
  } else if (typeof value === "number") {
    instant = new Date(value);
  } else if (typeof value === "string") {
    const ms = parseRfc3339(value.trim());
    if (ms === undefined) {
      throw new InvalidJobError(
        `at-times entry ${index} ${
          JSON.stringify(value)
        } is not a valid RFC 3339 instant with an explicit offset or Z, such as "2026-04-03T09:00:00+08:00"`,
        { kind: InvalidJobKind.Other },
      );
    }
    instant = new Date(ms);
  } else {
    throw new InvalidJobError(
      `at-times entry ${index} must be a Date, epoch milliseconds or an RFC 3339 string, got ${
        describeValue(value)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  if (Number.isNaN(instant.getTime())) {
    throw new InvalidJobError(
      `at-times entry ${index} is not a valid instant: ${describeValue(value)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  const ms = instant.getTime();
  if (!isStorableMs(ms)) {
    throw new InvalidJobError(
      `at-times entry ${index} (${
        describeValue(value)
      }) is outside the years 0000-9999 that a stored job state (RFC 3339) can hold`,
      { kind: InvalidJobKind.Other },
    );
  }
  return instant;
}

function atTimesSchedule(times: Iterable<Date | number | string>): Schedule {
  if (
    times === null || typeof times !== "object" ||
    typeof (times as Iterable<unknown>)[Symbol.iterator] !== "function"
  ) {
    throw new InvalidJobError(
      `at-times schedule needs an iterable of instants, got ${
        describeValue(times)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  const unique = new Map<number, Date>();
  let index = 0;
  for (const value of times) {
    const instant = toInstant(value, index++);
    unique.set(instant.getTime(), instant);
  }
  // Duplicates would be back-to-back runs of one occurrence (and collide on
  // one execution lease), so each instant is kept once.
  const sorted = [...unique.values()].sort((a, b) => a.getTime() - b.getTime());
  return own(Object.freeze({ kind: "at-times", times: Object.freeze(sorted) }));
}

function cronScheduleOf(expression: string | CronSchedule): Schedule {
  const cron = expression instanceof CronSchedule
    ? expression
    : CronSchedule.parse(expression);
  return own(Object.freeze({ kind: "cron", cron }));
}

/**
 * A schedule from the `Schedule` constructors is kept as is; a hand-built
 * object gets the same checks and is replaced by a validated copy (sorted,
 * frozen), so later changes to the caller's object cannot reach the job.
 *
 * @throws {InvalidJobError} as the constructors do; kind `other` for a value
 * that is no schedule at all.
 */
export function toSchedule(schedule: unknown): Schedule {
  if (isOwnSchedule(schedule)) return schedule as Schedule;
  const candidate = schedule as Schedule | undefined;
  switch (candidate?.kind) {
    case "interval":
      return intervalSchedule(candidate.everyMs);
    case "at-times":
      return atTimesSchedule(candidate.times);
    case "cron":
      return cronScheduleOf(
        candidate.cron instanceof CronSchedule
          ? candidate.cron
          : String(candidate.cron),
      );
  }
  throw new InvalidJobError(
    `schedule must come from Schedule.interval, Schedule.atTimes or Schedule.cron, got ${
      describeValue(schedule)
    }`,
    { kind: InvalidJobKind.Other },
  );
}

/**
 * Options of {@linkcode Schedule.nextRuns}.
 *
 * @example
 * ```ts
 * import { type NextRunsOptions, Schedule } from "@cloudiful/scheduler";
 * const options: NextRunsOptions = { timezone: "Asia/Tokyo", from: new Date(0) };
 * console.log(Schedule.nextRuns(Schedule.cron("@daily"), 1, options)[0].toISOString());
 * // 1970-01-01T15:00:00.000Z
 * ```
 */
export interface NextRunsOptions {
  /** List occurrences strictly after this instant. Default: now. */
  from?: Date;
  /**
   * The IANA zone cron is evaluated in.
   *
   * @default {"UTC"}
   */
  timezone?: string;
  /** Overrides of the cron daylight-saving rules. */
  dst?: DstPolicy;
}

function nextRunsOf(
  schedule: Schedule,
  count: number,
  options?: NextRunsOptions,
): Date[] {
  const checked = toSchedule(schedule);
  const { from, timezone, dst } = checkOptions(options, {
    what: "nextRuns options",
    known: ["from", "timezone", "dst"],
  });
  const zone = {
    timezone: validateTimeZone(timezone === undefined ? "UTC" : timezone),
    dst: validateDstPolicy(dst),
  };
  return listOccurrences(count, {
    from: startOfListing(from),
    after: (ms) => occurrenceAfter(checked, ms, zone),
  });
}

/**
 * Constructors of {@linkcode Schedule}. Each validates its input and throws
 * {@linkcode InvalidJobError} synchronously.
 *
 * @example Every 30 seconds, at two instants, or on a cron
 * ```ts
 * import { Schedule } from "@cloudiful/scheduler";
 * Schedule.interval(30_000);
 * Schedule.atTimes(["2026-04-03T09:00:00+08:00", Date.UTC(2026, 3, 4)]);
 * Schedule.cron("*\/5 * * * *");
 * ```
 */
export const Schedule: {
  /**
   * Fires every `everyMs` milliseconds, the first time `everyMs` after the
   * job's state is created.
   *
   * @throws {InvalidJobError} kind `zero-interval` for 0; kind
   * `interval-out-of-range` for negative, NaN, infinite values or values
   * beyond the `Date` range.
   */
  interval(everyMs: number): Schedule;
  /**
   * Fires at each listed instant: `Date`s, epoch milliseconds, or RFC 3339
   * strings with `Z` or an explicit offset. The list is sorted and
   * de-duplicated; an empty list is a schedule that ends at once.
   *
   * @throws {InvalidJobError} kind `other` for invalid dates and strings
   * without an offset.
   */
  atTimes(times: Iterable<Date | number | string>): Schedule;
  /**
   * Fires on a crontab(5) expression, evaluated in the scheduler's time zone.
   *
   * @throws {InvalidJobError} kind `cron-expression`.
   */
  cron(expression: string | CronSchedule): Schedule;
  /**
   * The next `count` occurrences of `schedule` strictly after `options.from`
   * (default now): for an interval `from + everyMs`, `from + 2 × everyMs`…
   * (what a job started at `from` would run), the listed instants after
   * `from`, or the cron matches in `options.timezone` (default UTC).
   *
   * @throws {InvalidJobError} kind `other` for a bad `count` (0 to 10 000),
   * `from`, option or schedule; kind `timezone` for an unknown zone.
   *
   * @example
   * ```ts
   * import { Schedule } from "@cloudiful/scheduler";
   * const runs = Schedule.nextRuns(Schedule.interval(600_000), 2, {
   *   from: new Date("2026-04-03T10:00:00Z"),
   * });
   * console.log(runs.map((run) => run.toISOString()));
   * // 2026-04-03T10:10:00.000Z, 2026-04-03T10:20:00.000Z
   * ```
   */
  nextRuns(
    schedule: Schedule,
    count: number,
    options?: NextRunsOptions,
  ): Date[];
} = Object.freeze({
  interval: intervalSchedule,
  atTimes: atTimesSchedule,
  cron: cronScheduleOf,
  nextRuns: nextRunsOf,
});
