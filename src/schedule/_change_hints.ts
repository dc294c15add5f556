/**
 * What a zone's offset changes found so far say about its next ones, for the
 * search of `_locate_change.ts`: a rule repeats at the same local time of
 * day, on the same weekday of the same week of the same month (the second
 * Sunday of March) or on the same date, and changes back at the local time
 * it changed to.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { civilFromDays, DAY_MS, daysInMonth, weekdayOfDays } from "./_civil.ts";

/** A change of UTC offset: from `at` on, local time is `at + offset`. */
export interface OffsetTransition {
  readonly at: number;
  readonly offset: number;
}

interface KnownChange {
  readonly before: number;
  readonly after: number;
  /** Local time of day (ms) before the change, in the offset before it. */
  readonly time: number;
  /** The same instant's local time of day in the offset after it. */
  readonly timeAfter: number;
  readonly utcTime: number;
  readonly day: LocalDay;
}

interface LocalDay {
  readonly month: number;
  readonly dayOfMonth: number;
  readonly weekday: number;
  /** 0 for days 1–7 of the month, 1 for days 8–14, … */
  readonly week: number;
  /** Whether the day is among the last seven of its month. */
  readonly last: boolean;
}

/** How much likelier a candidate is when the zone's own changes agree. */
const SAME_RULE_BOOST = 1000;
const SAME_TIME_BOOST = 30;
const SAME_WEEKDAY_BOOST = 100;
/** Enough to know a zone's rules; older changes are forgotten. */
const KEPT = 8;

/** The time of day (ms) of an instant or wall time. */
export function timeOfDay(instant: number): number {
  return instant - Math.floor(instant / DAY_MS) * DAY_MS;
}

function localDay(days: number): LocalDay {
  const { year, month, day } = civilFromDays(days);
  return {
    month,
    dayOfMonth: day,
    weekday: weekdayOfDays(days),
    week: Math.floor((day - 1) / 7),
    last: day + 7 > daysInMonth(year, month),
  };
}

/** A zone's recent offset changes, as hints for finding the next ones. */
export class ChangeHints {
  readonly #known: KnownChange[] = [];
  readonly #localTimes = new Set<number>();
  readonly #utcTimes = new Set<number>();

  /** Learns from a change found, given the offset before it. */
  record(change: OffsetTransition, before: number): void {
    const local = change.at + before;
    const known: KnownChange = {
      before,
      after: change.offset,
      time: timeOfDay(local),
      timeAfter: timeOfDay(change.at + change.offset),
      utcTime: timeOfDay(change.at),
      day: localDay(Math.floor(local / DAY_MS)),
    };
    this.#known.push(known);
    if (this.#known.length > KEPT) this.#known.shift();
    this.#localTimes.clear();
    this.#utcTimes.clear();
    for (const { time, timeAfter, utcTime } of this.#known) {
      this.#localTimes.add(time).add(timeAfter);
      this.#utcTimes.add(utcTime);
    }
  }

  /** Local times of day (ms) of the zone's changes, before and after. */
  get localTimes(): ReadonlySet<number> {
    return this.#localTimes;
  }

  /** UTC times of day (ms) of the zone's changes. */
  get utcTimes(): ReadonlySet<number> {
    return this.#utcTimes;
  }

  /**
   * How many times likelier the zone's own changes make a change from
   * offset `before` to `after` at `instant`: 1 when they say nothing.
   */
  boost(instant: number, before: number, after: number): number {
    if (this.#known.length === 0) return 1;
    const local = instant + before;
    const time = timeOfDay(local);
    const utcTime = timeOfDay(instant);
    const day = localDay(Math.floor(local / DAY_MS));
    let timeBoost = 1;
    let dayBoost = 1;
    for (const known of this.#known) {
      const same = known.before === before && known.after === after;
      if (same && known.time === time) {
        timeBoost = Math.max(timeBoost, SAME_RULE_BOOST);
      } else if (
        known.time === time || known.timeAfter === time ||
        known.utcTime === utcTime
      ) {
        timeBoost = Math.max(timeBoost, SAME_TIME_BOOST);
      }
      if (same && sameRuleDay(known.day, day)) {
        dayBoost = Math.max(dayBoost, SAME_RULE_BOOST);
      } else if (known.day.weekday === day.weekday) {
        dayBoost = Math.max(dayBoost, SAME_WEEKDAY_BOOST);
      }
    }
    return timeBoost * dayBoost;
  }
}

/** Whether two days are the same by a yearly rule: date or nth weekday. */
function sameRuleDay(known: LocalDay, day: LocalDay): boolean {
  if (known.month !== day.month) return false;
  if (known.dayOfMonth === day.dayOfMonth) return true;
  return known.weekday === day.weekday &&
    (known.week === day.week || (known.last && day.last));
}
