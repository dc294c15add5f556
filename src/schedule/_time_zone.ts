/**
 * Wall time ↔ instant in an IANA time zone, with the platform (`Intl`, and
 * `Temporal` where it exists) as the only source of zone data. A zone's UTC
 * offset transitions are asked of it once per zone and calendar year
 * (`_zone_changes.ts`) and cached.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import { DAY_MS, daysFromCivil } from "./_civil.ts";
import { type OffsetTransition, ZoneChanges } from "./_zone_changes.ts";

export type { OffsetTransition };

/**
 * The stretch of time around an instant during which a zone's offset stays the
 * same. `start` is the last transition at or before the instant (or a calendar
 * year boundary when none happened in the year before), `end` the next
 * transition or the next year boundary, whichever comes first.
 */
export interface OffsetSegment {
  readonly start: number;
  /** Whether `start` is a real offset change (not a year boundary). */
  readonly startIsTransition: boolean;
  /** The offset before `start`; equal to `offset` when there was no change. */
  readonly previousOffset: number;
  readonly offset: number;
  readonly end: number;
}

/** Options of {@linkcode TimeZoneRules}. */
export interface TimeZoneRulesOptions {
  /**
   * `false` to find changes by sampling `Intl` even where `Temporal` exists
   * (the path of runtimes without it; for tests).
   */
  readonly temporal?: boolean;
}

interface LateChange extends OffsetTransition {
  readonly previousOffset: number;
}

interface YearOffsets {
  readonly start: number;
  readonly end: number;
  /** The offset in force just before `start`. */
  readonly startOffset: number;
  /** Transitions with `start <= at < end`, in order. */
  readonly transitions: readonly OffsetTransition[];
  /** A change in the last {@linkcode LOOK_BACK_MS} before `start`, if any. */
  readonly lateBefore: LateChange | undefined;
}

/**
 * How far before New Year a year's scan looks for a change still in progress
 * (an overlap that began on 31 December): longer than any clock change.
 */
const LOOK_BACK_MS = 3 * DAY_MS;

const FIXED_OFFSET_ZONE =
  /^(UTC|GMT|Etc\/(UTC|UCT|GMT|Universal|Zulu|Greenwich|GMT[+-]\d{1,2})|[+-]\d{2}(:?\d{2})?)$/;

/** Offset rules of one time zone, computed lazily from the platform. */
export class TimeZoneRules {
  /** The zone name as given. */
  readonly zone: string;
  readonly #changes: ZoneChanges;
  readonly #fixedOffset: number | undefined;
  readonly #years = new Map<number, YearOffsets>();
  #lastYear: YearOffsets | undefined;

  /**
   * @throws {InvalidJobError} kind `timezone` when `Intl` does not know the zone.
   */
  constructor(zone: string, options: TimeZoneRulesOptions = {}) {
    this.zone = zone;
    let format: Intl.DateTimeFormat;
    try {
      format = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        timeZoneName: "longOffset",
      });
    } catch (cause) {
      throw new InvalidJobError(
        `unknown time zone ${JSON.stringify(zone)}: ${
          cause instanceof Error ? cause.message : String(cause)
        } (use an IANA name such as "Europe/Berlin")`,
        { kind: InvalidJobKind.Timezone },
      );
    }
    this.#changes = new ZoneChanges(zone, format, options.temporal !== false);
    const resolved = format.resolvedOptions().timeZone;
    this.#fixedOffset = FIXED_OFFSET_ZONE.test(resolved)
      ? this.#changes.offsetAt(0)
      : undefined;
  }

  /** The UTC offset in milliseconds (local − UTC) in force at an instant. */
  offsetAt(instant: number): number {
    if (this.#fixedOffset !== undefined) return this.#fixedOffset;
    const year = this.#yearAt(instant);
    const transitions = year.transitions;
    const index = lastAtOrBefore(transitions, instant);
    return index < 0 ? year.startOffset : transitions[index].offset;
  }

  /** The constant-offset stretch of time containing an instant. */
  segmentAt(instant: number): OffsetSegment {
    if (this.#fixedOffset !== undefined) {
      const calendarYear = yearOf(instant);
      const offset = this.#fixedOffset;
      return {
        start: Date.UTC(calendarYear, 0, 1),
        startIsTransition: false,
        previousOffset: offset,
        offset,
        end: Date.UTC(calendarYear + 1, 0, 1),
      };
    }
    const year = this.#yearAt(instant);
    const transitions = year.transitions;
    const index = lastAtOrBefore(transitions, instant);
    const end = index + 1 < transitions.length
      ? transitions[index + 1].at
      : year.end;
    if (index >= 0) {
      return {
        start: transitions[index].at,
        startIsTransition: true,
        previousOffset: index > 0
          ? transitions[index - 1].offset
          : year.startOffset,
        offset: transitions[index].offset,
        end,
      };
    }
    // Nothing changed this year before the instant: only a change in the
    // last days of the year before can still matter (an overlap in progress).
    const late = year.lateBefore;
    if (late !== undefined) {
      return {
        start: late.at,
        startIsTransition: true,
        previousOffset: late.previousOffset,
        offset: year.startOffset,
        end,
      };
    }
    return {
      start: year.start,
      startIsTransition: false,
      previousOffset: year.startOffset,
      offset: year.startOffset,
      end,
    };
  }

  /** The year of an instant; the last one asked for is at hand. */
  #yearAt(instant: number): YearOffsets {
    const last = this.#lastYear;
    if (last !== undefined && instant >= last.start && instant < last.end) {
      return last;
    }
    const calendarYear = yearOf(instant);
    let year = this.#years.get(calendarYear);
    if (year === undefined) {
      year = this.#scanYear(calendarYear);
      this.#years.set(calendarYear, year);
    }
    this.#lastYear = year;
    return year;
  }

  /**
   * Where the platform has `Temporal`, asks it for each change (about 4
   * calls a year); otherwise probes the offset every four weeks and locates
   * each change between two probes (15 calls for a zone without changes,
   * about 25 for two changes a year; `_zone_changes.ts`). Either way the year
   * starts a few days early, so that a change just before New Year is known
   * without scanning the year before. See `intlCalls`.
   */
  #scanYear(calendarYear: number): YearOffsets {
    const start = Date.UTC(calendarYear, 0, 1);
    const end = Date.UTC(calendarYear + 1, 0, 1);
    const changes = this.#changes.between(start - LOOK_BACK_MS, end);
    let startOffset = changes.offset;
    let lateBefore: LateChange | undefined;
    const transitions: OffsetTransition[] = [];
    let previousOffset = changes.offset;
    for (const change of changes.transitions) {
      if (change.at < start) {
        lateBefore = { ...change, previousOffset };
        startOffset = change.offset;
      } else {
        transitions.push(change);
      }
      previousOffset = change.offset;
    }
    return { start, end, startOffset, lateBefore, transitions };
  }

  /**
   * How many calls into `Intl` or `Temporal` these rules have made so far
   * (what a new zone-year costs), for the benchmarks and the tests.
   */
  get intlCalls(): number {
    return this.#changes.calls;
  }

  /** Whether the changes come from `Temporal` (else from `Intl` probes). */
  get usesTemporal(): boolean {
    return this.#changes.usesTemporal;
  }
}

/** The UTC calendar year of an instant, without building a `Date`. */
function yearOf(instant: number): number {
  let year = Math.floor(instant / AVERAGE_YEAR_MS) + 1970;
  if (daysFromCivil(year, 1, 1) * DAY_MS > instant) year -= 1;
  else if (daysFromCivil(year + 1, 1, 1) * DAY_MS <= instant) year += 1;
  return year;
}

/** 365.2425 days, the Gregorian calendar's average year. */
const AVERAGE_YEAR_MS = 31_556_952_000;

/** Index of the last transition with `at <= instant`, or -1. */
function lastAtOrBefore(
  transitions: readonly OffsetTransition[],
  instant: number,
): number {
  let low = 0;
  let high = transitions.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (transitions[middle].at <= instant) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

const RULES = new Map<string, TimeZoneRules>();

/**
 * The shared, cached rules of a zone.
 *
 * @throws {InvalidJobError} kind `timezone` for a zone `Intl` does not know.
 */
export function timeZoneRules(zone: string): TimeZoneRules {
  let rules = RULES.get(zone);
  if (rules === undefined) {
    rules = new TimeZoneRules(zone);
    RULES.set(zone, rules);
  }
  return rules;
}

/**
 * Checks a time zone name, returning it unchanged.
 *
 * @throws {InvalidJobError} kind `timezone` for anything `Intl` rejects.
 */
export function validateTimeZone(zone: unknown): string {
  if (typeof zone !== "string" || zone.trim() === "") {
    throw new InvalidJobError(
      `time zone must be a non-empty IANA name such as "Europe/Berlin", got ${
        describeValue(zone)
      }`,
      { kind: InvalidJobKind.Timezone },
    );
  }
  timeZoneRules(zone);
  return zone;
}
