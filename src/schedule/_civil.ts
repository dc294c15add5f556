/**
 * Proleptic Gregorian calendar arithmetic on "wall" milliseconds: a local date
 * and time written as if it were UTC. Pure integer math (no `Date` objects), so
 * the cron search can step through days and months cheaply.
 *
 * @module
 */

/** Milliseconds in a minute. */
export const MINUTE_MS = 60_000;
/** Milliseconds in an hour. */
export const HOUR_MS = 3_600_000;
/** Milliseconds in a day. */
export const DAY_MS = 86_400_000;
/** The largest instant a `Date` can hold (ECMA-262 §21.4.1.1). */
export const MAX_DATE_MS = 8.64e15;

/**
 * The range of instants a job state can hold: RFC 3339 (and so the Rust
 * crate's JSON) has four-digit years, 0000-01-01 to 9999-12-31.
 */
export const MIN_STORABLE_MS = -62_167_219_200_000;
/** See {@linkcode MIN_STORABLE_MS}. */
export const MAX_STORABLE_MS = 253_402_300_799_999;

/** Whether epoch ms `ms` lies in the years 0000–9999 a job state can hold. */
export function isStorableMs(ms: number): boolean {
  return ms >= MIN_STORABLE_MS && ms <= MAX_STORABLE_MS;
}

/** A calendar date; `month` is 1–12. */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

/** Days since 1970-01-01 of a calendar date (H. Hinnant's algorithm). */
export function daysFromCivil(
  year: number,
  month: number,
  day: number,
): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) +
    day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) -
    Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** The calendar date of a day number (inverse of {@linkcode daysFromCivil}). */
export function civilFromDays(days: number): CivilDate {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) -
      Math.floor(dayOfEra / 146096)) / 365,
  );
  const dayOfYear = dayOfEra -
    (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  return { year: era * 400 + yearOfEra + (month <= 2 ? 1 : 0), month, day };
}

/** Day of the week of a day number: 0 = Sunday … 6 = Saturday. */
export function weekdayOfDays(days: number): number {
  return ((days % 7) + 11) % 7; // 1970-01-01 was a Thursday (4)
}

/** Whether a year is a Gregorian leap year. */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_LENGTHS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Number of days in a month (`month` 1–12). */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : MONTH_LENGTHS[month];
}

/** The longest a month can be (February counts 29). */
export function maxDaysInMonth(month: number): number {
  return month === 2 ? 29 : MONTH_LENGTHS[month];
}
