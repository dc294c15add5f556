/**
 * Which local wall time matches a cron pattern next: a field-stepping search
 * over wall milliseconds (local date and time written as if it were UTC). Time
 * zones and daylight saving are not this file's business; see `_cron_zoned.ts`.
 *
 * @module
 */

import {
  civilFromDays,
  DAY_MS,
  daysFromCivil,
  daysInMonth,
  HOUR_MS,
  MINUTE_MS,
  weekdayOfDays,
} from "./_civil.ts";
import type { CronPattern } from "./_cron_pattern.ts";

/** Whether a calendar day matches the day fields of a pattern. */
export function dayMatches(
  pattern: CronPattern,
  dayOfMonth: number,
  weekday: number,
): boolean {
  const byMonthDay = pattern.daysOfMonth[dayOfMonth] === 1;
  const byWeekday = pattern.daysOfWeek[weekday] === 1;
  return pattern.dayMatchesEither
    ? byMonthDay || byWeekday
    : byMonthDay && byWeekday;
}

/**
 * The first whole wall minute `m` with `from <= m < until` that matches the
 * pattern, or `undefined`. Skips whole months, days and hours that cannot
 * match, so the cost grows with the number of days searched, not minutes.
 */
export function nextWallTimeMatch(
  pattern: CronPattern,
  from: number,
  until: number,
): number | undefined {
  const start = Math.ceil(from / MINUTE_MS) * MINUTE_MS;
  if (!(start < until)) return undefined;
  let days = Math.floor(start / DAY_MS);
  let { year, month, day } = civilFromDays(days);
  const msOfDay = start - days * DAY_MS;
  let hour = Math.floor(msOfDay / HOUR_MS);
  let minute = Math.floor((msOfDay % HOUR_MS) / MINUTE_MS);

  for (;;) {
    if (pattern.months[month] !== 1) {
      const next = pattern.nextMonth[month + 1];
      if (next < 0) {
        year += 1;
        month = pattern.nextMonth[1];
      } else {
        month = next;
      }
      day = 1;
      hour = 0;
      minute = 0;
      days = daysFromCivil(year, month, day);
      if (days * DAY_MS >= until) return undefined;
      continue;
    }
    let nextDay = !dayMatches(pattern, day, weekdayOfDays(days));
    if (!nextDay) {
      const matchingHour = pattern.nextHour[hour];
      if (matchingHour < 0) {
        nextDay = true;
      } else {
        if (matchingHour !== hour) minute = 0;
        hour = matchingHour;
        const matchingMinute = pattern.nextMinute[minute];
        if (matchingMinute >= 0) {
          const found = days * DAY_MS + hour * HOUR_MS +
            matchingMinute * MINUTE_MS;
          return found < until ? found : undefined;
        }
        // No minute left in this hour: try the next hour of the same day.
        minute = 0;
        hour += 1;
        if (hour > 23) nextDay = true;
      }
    }
    if (nextDay) {
      days += 1;
      day += 1;
      hour = 0;
      minute = 0;
      if (day > daysInMonth(year, month)) {
        day = 1;
        month += 1;
        if (month > 12) {
          month = 1;
          year += 1;
        }
      }
      if (days * DAY_MS >= until) return undefined;
    }
  }
}
