/**
 * Occurrence arithmetic for the engine, as pure functions of a schedule, a
 * cursor (`triggerCount`, `nextRunAt`) and "now": the first occurrence of a new
 * state, the occurrence after another, and consuming every due occurrence at
 * once. Intervals are closed-form (a million missed occurrences cost as much as
 * one), at-times use a binary search, cron steps occurrence by occurrence.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { InvalidJobError } from "../errors.ts";
import { MAX_STORABLE_MS } from "./_civil.ts";
import type { CronSchedule } from "./cron_schedule.ts";
import type { DstPolicy } from "./dst_policy.ts";

/**
 * A schedule as occurrence arithmetic reads it: the shape of every
 * `Schedule`. Declared here rather than imported from schedule.ts, which
 * uses this module for `Schedule.nextRuns`; passing a `Schedule` to these
 * functions keeps the two in step.
 */
export type ScheduleShape =
  | { readonly kind: "interval"; readonly everyMs: number }
  | { readonly kind: "at-times"; readonly times: readonly Date[] }
  | { readonly kind: "cron"; readonly cron: CronSchedule };

/** Where cron is evaluated. */
export interface OccurrenceZone {
  readonly timezone: string;
  readonly dst?: DstPolicy;
}

/** The part of a job's state that occurrence arithmetic reads and advances. */
export interface OccurrenceCursor {
  readonly triggerCount: number;
  /** Epoch ms of the next occurrence not yet consumed; `null` = exhausted. */
  readonly nextRunAt: number | null;
}

/** Options of {@linkcode consumeDue}. */
export interface ConsumeOptions extends OccurrenceZone {
  /** Occurrences at or before this epoch ms are due. */
  readonly now: number;
  /** Cap on `triggerCount`; `undefined` = unbounded. */
  readonly maxRuns?: number;
  /** Consume at most this many (replay-all consumes one per decision). */
  readonly limit?: number;
}

/** What {@linkcode consumeDue} took off the schedule. */
export interface ConsumedOccurrences {
  /** How many occurrences were consumed (at least 1). */
  readonly count: number;
  /** The first consumed occurrence (epoch ms). */
  readonly earliest: number;
  /** The last consumed occurrence (epoch ms). */
  readonly latest: number;
  /** The consumed occurrence just before `latest`, or `null` if only one. */
  readonly beforeLatest: number | null;
  /** The cursor after consuming. */
  readonly cursor: OccurrenceCursor;
}

const sortedTimes = new WeakMap<ScheduleShape, number[]>();

function timesOf(schedule: ScheduleShape & { kind: "at-times" }): number[] {
  let times = sortedTimes.get(schedule);
  if (times === undefined) {
    times = schedule.times.map((time) => time.getTime());
    sortedTimes.set(schedule, times);
  }
  return times;
}

/** Index of the first element greater than `value` in a sorted array. */
function upperBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sorted[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Index of the first element not less than `value` in a sorted array. */
function lowerBound(sorted: readonly number[], value: number): number {
  return upperBound(sorted, value - 1);
}

/**
 * The first instant at or after `instant` (epoch ms) that is no occurrence of
 * the schedule, or `undefined` when the schedule leaves none (an interval of
 * 1 ms: every millisecond is an occurrence). An interval's occurrences are
 * `nextRunAt` plus or minus whole intervals (none when `nextRunAt` is
 * `null`). The cost is bounded: one step for an interval of 2 ms or more, and
 * for cron, whose occurrences fall on whole seconds (whole minutes of local
 * time, at offsets of whole seconds); a binary search and the run of
 * back-to-back instants for an at-times list. The result may lie past 9999.
 */
export function nonOccurrenceFrom(
  schedule: ScheduleShape,
  instant: number,
  zone: OccurrenceZone & { readonly nextRunAt: number | null },
): number | undefined {
  switch (schedule.kind) {
    case "interval": {
      const { everyMs } = schedule;
      if (everyMs === 1) return undefined;
      const next = zone.nextRunAt;
      const onGrid = next !== null && (instant - next) % everyMs === 0;
      return onGrid ? instant + 1 : instant;
    }
    case "at-times": {
      const times = timesOf(schedule);
      let free = instant;
      for (let i = lowerBound(times, instant); times[i] === free; i++) free++;
      return free;
    }
    case "cron": {
      const hit = schedule.cron.nextAfterMs(
        instant - 1,
        zone.timezone,
        zone.dst,
      ) === instant;
      return hit ? instant + 1 : instant;
    }
  }
}

/**
 * The occurrence after `occurrence` (epoch ms), ignoring `maxRuns`, or `null`
 * when the schedule has none (end of the list, end of the `Date` range).
 */
export function occurrenceAfter(
  schedule: ScheduleShape,
  occurrence: number,
  zone: OccurrenceZone,
): number | null {
  switch (schedule.kind) {
    case "interval": {
      const next = occurrence + schedule.everyMs;
      return next <= MAX_STORABLE_MS ? next : null;
    }
    case "at-times": {
      const times = timesOf(schedule);
      const index = upperBound(times, occurrence);
      return index < times.length ? times[index] : null;
    }
    case "cron": {
      const next = schedule.cron.nextAfterMs(
        occurrence,
        zone.timezone,
        zone.dst,
      );
      return next === undefined || next > MAX_STORABLE_MS ? null : next;
    }
  }
}

/**
 * The first occurrence of a new state created at `now`: `now + everyMs` for an
 * interval (with `grid`, the first multiple of `everyMs` since the epoch after
 * `now`, so that instances starting apart agree: docs/recovery.md), the
 * earliest instant of an at-times list (even a past one), the first cron
 * match after `now`; `null` when `maxRuns` is 0 or there is none.
 *
 * @throws {InvalidJobError} kind `interval-out-of-range` when `now + everyMs`
 * is beyond the `Date` range.
 */
export function firstOccurrence(
  schedule: ScheduleShape,
  options: OccurrenceZone & {
    readonly now: number;
    readonly maxRuns?: number;
    readonly grid?: boolean;
  },
): number | null {
  if (options.maxRuns === 0) return null;
  switch (schedule.kind) {
    case "interval": {
      const every = schedule.everyMs;
      const first = options.grid
        ? (Math.floor(options.now / every) + 1) * every
        : options.now + every;
      if (first > MAX_STORABLE_MS) {
        throw new InvalidJobError(
          `interval schedule of ${schedule.everyMs} ms is too large: the first run would be after 9999-12-31, the last instant a job state can hold`,
          { kind: InvalidJobKind.IntervalOutOfRange },
        );
      }
      return first;
    }
    case "at-times":
      return timesOf(schedule)[0] ?? null;
    case "cron":
      return occurrenceAfter(schedule, options.now, options);
  }
}

/**
 * Consumes the due occurrences of a cursor: those at or before `now`, at most
 * `limit`, and never past `maxRuns` (at least the first one: a restored
 * state that already reached a cap lowered since ends before it is asked,
 * `scheduler/rules/_initial_state.ts`, where the Rust crate fires it).
 *
 * @returns What was consumed, or `undefined` when nothing is due.
 */
export function consumeDue(
  schedule: ScheduleShape,
  cursor: OccurrenceCursor,
  options: ConsumeOptions,
): ConsumedOccurrences | undefined {
  const first = cursor.nextRunAt;
  if (first === null || first > options.now) return undefined;
  const { maxRuns, now } = options;
  const allowed = Math.max(
    1,
    Math.min(
      options.limit ?? Infinity,
      maxRuns === undefined ? Infinity : maxRuns - cursor.triggerCount,
    ),
  );
  let count: number;
  let latest: number;
  let beforeLatest: number | null;
  let following: number | null;
  switch (schedule.kind) {
    case "interval": {
      const every = schedule.everyMs;
      count = Math.min(Math.floor((now - first) / every) + 1, allowed);
      latest = first + (count - 1) * every;
      beforeLatest = count > 1 ? latest - every : null;
      following = latest + every <= MAX_STORABLE_MS ? latest + every : null;
      break;
    }
    case "at-times": {
      const times = timesOf(schedule);
      const afterFirst = upperBound(times, first);
      const dueAfterFirst = upperBound(times, now) - afterFirst;
      count = Math.min(1 + Math.max(0, dueAfterFirst), allowed);
      latest = count === 1 ? first : times[afterFirst + count - 2];
      beforeLatest = count === 1
        ? null
        : count === 2
        ? first
        : times[afterFirst + count - 3];
      following = times[afterFirst + count - 1] ?? null;
      break;
    }
    case "cron": {
      count = 1;
      latest = first;
      beforeLatest = null;
      following = occurrenceAfter(schedule, first, options);
      while (count < allowed && following !== null && following <= now) {
        beforeLatest = latest;
        latest = following;
        count += 1;
        following = occurrenceAfter(schedule, latest, options);
      }
      break;
    }
  }
  const triggerCount = cursor.triggerCount + count;
  const exhausted = maxRuns !== undefined && triggerCount >= maxRuns;
  return {
    count,
    earliest: first,
    latest,
    beforeLatest,
    cursor: { triggerCount, nextRunAt: exhausted ? null : following },
  };
}
