/**
 * Strict RFC 3339 timestamps, as the Rust crate (chrono) writes and reads
 * them. `Date.parse` is not used on input because it rolls impossible dates
 * over (`2026-02-30` becomes March 2) instead of refusing them.
 *
 * @module
 */

import { daysInMonth, isStorableMs } from "./_civil.ts";

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Epoch milliseconds of an RFC 3339 timestamp with `Z` or a numeric offset,
 * or `undefined` when the text is not one or names an impossible date or time.
 * Fractions beyond milliseconds are truncated (a `Date` holds milliseconds).
 */
export function parseRfc3339(text: string): number | undefined {
  const match = TIMESTAMP.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, offsetH, offsetM] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? 0);
  if (
    month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) ||
    hour > 23 || minute > 59 || second > 59
  ) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (zulu.toUpperCase() !== "Z") {
    const hours = Number(offsetH);
    const minutes = Number(offsetM);
    if (hours > 23 || minutes > 59) return undefined;
    offsetMinutes = (sign === "-" ? -1 : 1) * (hours * 60 + minutes);
  }
  const millis = fraction === undefined
    ? 0
    : Number(fraction.padEnd(3, "0").slice(0, 3));
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return date.getTime() - offsetMinutes * 60_000;
}

/**
 * An instant as RFC 3339 UTC with a `Z`. `fraction` `"auto"` writes no
 * fraction for whole seconds and three digits otherwise (chrono's AutoSi for
 * millisecond values); `9` always writes nine digits (the Valkey lease keys).
 */
export function formatRfc3339(ms: number, fraction: "auto" | 9): string {
  requireRfc3339Year(ms);
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ
  const base = iso.slice(0, 19);
  const millis = iso.slice(20, 23);
  if (fraction === 9) return `${base}.${millis}000000Z`;
  return millis === "000" ? `${base}Z` : `${base}.${millis}Z`;
}

/**
 * Refuses an instant outside the years 0000-9999, which RFC 3339 cannot
 * write (`toISOString` writes ±YYYYYY there): the one range check of every
 * store, whether it writes the text (`formatRfc3339`) or keeps the numbers
 * (`store/_store_input.ts`).
 *
 * @throws {RangeError} naming the instant.
 */
export function requireRfc3339Year(ms: number): void {
  if (!isStorableMs(ms)) {
    throw new RangeError(
      `${
        new Date(ms).toISOString()
      } is outside the years 0000-9999 that RFC 3339 can write`,
    );
  }
}
