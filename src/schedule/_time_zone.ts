/**
 * Wall time ↔ instant in an IANA time zone, with `Intl` as the only source of
 * zone data. A zone's UTC offset transitions are found by sampling the offset
 * once a day and bisecting each change to the millisecond; they are computed
 * once per zone and calendar year and cached. Two transitions less than a day
 * apart that cancel out would go unseen; tzdata has none since 1970.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import { DAY_MS } from "./_civil.ts";

/** A change of UTC offset: from `at` on, local time is `at + offset`. */
export interface OffsetTransition {
  readonly at: number;
  readonly offset: number;
}

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

interface YearOffsets {
  readonly start: number;
  readonly end: number;
  /** The offset in force just before `start`. */
  readonly startOffset: number;
  /** Transitions with `start <= at < end`, in order. */
  readonly transitions: readonly OffsetTransition[];
}

const FIXED_OFFSET_ZONE =
  /^(UTC|GMT|Etc\/(UTC|UCT|GMT|Universal|Zulu|Greenwich|GMT[+-]\d{1,2})|[+-]\d{2}(:?\d{2})?)$/;
const OFFSET_TEXT = /GMT(?:([+-])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?)?$/;

/** Offset rules of one time zone, computed lazily from `Intl`. */
export class TimeZoneRules {
  /** The zone name as given. */
  readonly zone: string;
  readonly #format: Intl.DateTimeFormat;
  readonly #fixedOffset: number | undefined;
  readonly #years = new Map<number, YearOffsets>();

  /**
   * @throws {InvalidJobError} kind `timezone` when `Intl` does not know the zone.
   */
  constructor(zone: string) {
    this.zone = zone;
    try {
      this.#format = new Intl.DateTimeFormat("en-US", {
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
    const resolved = this.#format.resolvedOptions().timeZone;
    this.#fixedOffset = FIXED_OFFSET_ZONE.test(resolved)
      ? this.#sampleOffset(0)
      : undefined;
  }

  /** The UTC offset in milliseconds (local − UTC) in force at an instant. */
  offsetAt(instant: number): number {
    if (this.#fixedOffset !== undefined) return this.#fixedOffset;
    const year = this.#year(yearOf(instant));
    const transitions = year.transitions;
    const index = lastAtOrBefore(transitions, instant);
    return index < 0 ? year.startOffset : transitions[index].offset;
  }

  /** The constant-offset stretch of time containing an instant. */
  segmentAt(instant: number): OffsetSegment {
    const calendarYear = yearOf(instant);
    if (this.#fixedOffset !== undefined) {
      const offset = this.#fixedOffset;
      return {
        start: Date.UTC(calendarYear, 0, 1),
        startIsTransition: false,
        previousOffset: offset,
        offset,
        end: Date.UTC(calendarYear + 1, 0, 1),
      };
    }
    const year = this.#year(calendarYear);
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
    // Nothing changed this year before the instant: the change that matters
    // (for an overlap still in progress) can only be late in the year before.
    const before = this.#year(calendarYear - 1).transitions;
    if (before.length > 0) {
      const last = before[before.length - 1];
      return {
        start: last.at,
        startIsTransition: true,
        previousOffset: before.length > 1
          ? before[before.length - 2].offset
          : this.#year(calendarYear - 1).startOffset,
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

  #year(calendarYear: number): YearOffsets {
    let year = this.#years.get(calendarYear);
    if (year === undefined) {
      year = this.#scanYear(calendarYear);
      this.#years.set(calendarYear, year);
    }
    return year;
  }

  #scanYear(calendarYear: number): YearOffsets {
    const start = Date.UTC(calendarYear, 0, 1);
    const end = Date.UTC(calendarYear + 1, 0, 1);
    const startOffset = this.#sampleOffset(start - 1);
    const transitions: OffsetTransition[] = [];
    let previousAt = start - 1;
    let previousOffset = startOffset;
    for (let at = start; at < end + DAY_MS; at += DAY_MS) {
      const sample = Math.min(at, end - 1);
      const offset = this.#sampleOffset(sample);
      if (offset !== previousOffset) {
        const changeAt = this.#bisect(previousAt, sample, previousOffset);
        transitions.push({ at: changeAt, offset });
      }
      previousAt = sample;
      previousOffset = offset;
      if (sample === end - 1) break;
    }
    return { start, end, startOffset, transitions };
  }

  /** The first instant in `(low, high]` whose offset differs from `offset`. */
  #bisect(low: number, high: number, offset: number): number {
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (this.#sampleOffset(middle) === offset) low = middle;
      else high = middle;
    }
    return high;
  }

  #sampleOffset(instant: number): number {
    const text = this.#format.format(instant);
    const match = OFFSET_TEXT.exec(text);
    if (match === null || match[1] === undefined) return 0;
    const sign = match[1] === "-" ? -1 : 1;
    const hours = Number(match[2]);
    const minutes = Number(match[3] ?? 0);
    const seconds = Number(match[4] ?? 0);
    return sign * ((hours * 60 + minutes) * 60 + seconds) * 1000;
  }
}

/** The UTC calendar year of an instant. */
function yearOf(instant: number): number {
  return new Date(instant).getUTCFullYear();
}

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
