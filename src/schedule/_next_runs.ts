/**
 * Listing upcoming occurrences: the checks and the bounded loop shared by
 * `CronSchedule.nextRuns` and `Schedule.nextRuns`.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { describeValue, invalid } from "../errors.ts";
import { MAX_STORABLE_MS } from "./_civil.ts";

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
 * Throws `InvalidJobError` unless `count` is a whole number from 0 to
 * {@linkcode MAX_NEXT_RUNS}.
 */
export function checkNextRunsCount(count: unknown): asserts count is number {
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
}

/**
 * Up to `count` instants, each strictly after the one before, starting
 * strictly after `from`; fewer when `after` finds no more or the
 * next is past 9999-12-31.
 *
 * @throws {InvalidJobError} kind `other` for a `count` that is not a whole
 * number from 0 to {@linkcode MAX_NEXT_RUNS}.
 */
export function listOccurrences(
  count: unknown,
  walk: { from: number; after: (ms: number) => number | null | undefined },
): Date[] {
  checkNextRunsCount(count);
  const runs: Date[] = [];
  let cursor = walk.from;
  while (runs.length < count) {
    const next = walk.after(cursor);
    // Past 9999-12-31 no job state can hold an instant: the listing ends.
    if (next === null || next === undefined || next > MAX_STORABLE_MS) break;
    runs.push(new Date(next));
    cursor = next;
  }
  return runs;
}
