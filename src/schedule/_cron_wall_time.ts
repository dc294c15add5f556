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

/**
 * The first day at or after `day` in a month of `length` days that matches the
 * day fields of a pattern, or -1; `weekday` is the weekday of `day`. Jumps by
 * the pattern's tables instead of testing each day, so a pattern that matches
 * a few days a year costs about as much as one that matches every day.
 */
export function firstMatchingDay(
  pattern: CronPattern,
  day: number,
  weekday: number,
  length: number,
): number {
  const byMonthDay = pattern.nextDayOfMonth;
  const toWeekday = pattern.daysToWeekday;
  if (day > length) return -1;
  if (pattern.dayMatchesEither) {
    const dayOfMonth = byMonthDay[day];
    const ahead = toWeekday[weekday];
    let first = dayOfMonth > 0 && dayOfMonth <= length ? dayOfMonth : -1;
    if (ahead >= 0 && day + ahead <= length) {
      if (first < 0 || day + ahead < first) first = day + ahead;
    }
    return first;
  }
  // Both fields must match: alternate between them until they agree.
  let candidate = day;
  while (candidate <= length) {
    const dayOfMonth = byMonthDay[candidate];
    if (dayOfMonth < 0 || dayOfMonth > length) return -1;
    const ahead = toWeekday[(weekday + dayOfMonth - day) % 7];
    if (ahead < 0) return -1;
    if (ahead === 0) return dayOfMonth;
    candidate = dayOfMonth + ahead;
  }
  return -1;
}

/**
 * The first whole wall minute `m` with `from <= m < until` that matches the
 * pattern, or `undefined`. Skips whole months, days and hours that cannot
 * match, so the cost grows with the number of months searched, not minutes.
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
    const matching = pattern.months[month] === 1
      ? firstMatchingDay(
        pattern,
        day,
        weekdayOfDays(days),
        daysInMonth(year, month),
      )
      : -1;
    if (matching < 0) {
      // A month not selected, or nothing left in this one: start over on the
      // first of the next selected month (nextMonth[13] is -1).
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
    if (matching !== day) {
      days += matching - day;
      day = matching;
      hour = 0;
      minute = 0;
      if (days * DAY_MS >= until) return undefined;
    }
    const matchingHour = pattern.nextHour[hour];
    if (matchingHour >= 0) {
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
      if (hour <= 23) continue;
    }
    days += 1;
    day += 1;
    hour = 0;
    minute = 0;
    if (days * DAY_MS >= until) return undefined;
  }
}
