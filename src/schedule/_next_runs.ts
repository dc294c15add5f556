/**
 * Listing upcoming occurrences: the checks and the bounded loop shared by
 * `CronSchedule.nextRuns` and `Schedule.nextRuns`.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { describeValue, invalid } from "../errors.ts";

/** The most occurrences one call lists: a preview, not a data export. */
export const MAX_NEXT_RUNS = 10_000;

/**
 * The epoch ms of `from` (now when `undefined`).
 *
 * @throws {InvalidJobError} kind `other` for anything but a valid `Date`.
 */
export function startOfListing(from: unknown): number {
  if (from === undefined) return Date.now();
  if (!(from instanceof Date) || Number.isNaN(from.getTime())) {
    throw invalid(
      `nextRuns needs a valid Date to start from, got ${describeValue(from)}`,
    );
  }
  return from.getTime();
}

/**
 * Up to `count` instants, each strictly after the one before, starting
 * strictly after `from`; fewer when `after` finds no more.
 *
 * @throws {InvalidJobError} kind `other` for a `count` that is not a whole
 * number from 0 to {@linkcode MAX_NEXT_RUNS}.
 */
export function listOccurrences(
  count: unknown,
  walk: { from: number; after: (ms: number) => number | null | undefined },
): Date[] {
  if (
    typeof count !== "number" || !Number.isSafeInteger(count) || count < 0 ||
    count > MAX_NEXT_RUNS
  ) {
    throw invalid(
      `nextRuns count must be a whole number from 0 to ${MAX_NEXT_RUNS}, got ${
        describeValue(count)
      }`,
    );
  }
  const runs: Date[] = [];
  let cursor = walk.from;
  while (runs.length < count) {
    const next = walk.after(cursor);
    if (next === null || next === undefined) break;
    runs.push(new Date(next));
    cursor = next;
  }
  return runs;
}
