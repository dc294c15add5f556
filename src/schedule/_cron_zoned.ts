/**
 * Which instant a cron pattern fires at next in a time zone, with the
 * daylight-saving rules of `dst_policy.ts`. The zone's timeline is walked one
 * constant-offset segment at a time; inside a segment local time is a plain
 * shift of UTC, so the wall-time search of `_cron_wall_time.ts` applies.
 *
 * - gap (offset grows at `start`): with `shift`, a match among the skipped
 *   wall times fires once, at `start`, the first instant after the gap;
 * - overlap (offset shrinks at `start`): with `first`, wall times that already
 *   occurred before `start` are not matched again.
 *
 * Occurrences are strictly increasing: each search starts after the last.
 *
 * @module
 */

import { MAX_DATE_MS } from "./_civil.ts";
import type { CronPattern } from "./_cron_pattern.ts";
import { nextWallTimeMatch } from "./_cron_wall_time.ts";
import type { ResolvedDstRules } from "./dst_policy.ts";
import type { TimeZoneRules } from "./_time_zone.ts";

/** How far ahead a search may look before it concludes there is nothing. */
export const CRON_SEARCH_HORIZON_MS: number = 400 * 366 * 86_400_000;

/**
 * The first instant strictly after `after` (epoch ms) at which the pattern
 * fires in the zone, or `undefined` when none exists within 400 years (a
 * pattern that only matches skipped local times) or before the end of the
 * `Date` range.
 */
export function nextZonedOccurrence(
  pattern: CronPattern,
  after: number,
  zone: TimeZoneRules,
  rules: ResolvedDstRules,
): number | undefined {
  const horizon = Math.min(after + CRON_SEARCH_HORIZON_MS, MAX_DATE_MS);
  let from = Math.floor(after) + 1;
  while (from <= horizon) {
    const segment = zone.segmentAt(from);
    const { start, offset, previousOffset } = segment;
    if (
      segment.startIsTransition && from === start &&
      previousOffset < offset && rules.gap === "shift" &&
      nextWallTimeMatch(pattern, start + previousOffset, start + offset) !==
        undefined
    ) {
      return start;
    }
    let wallFrom = from + offset;
    if (
      segment.startIsTransition && previousOffset > offset &&
      rules.overlap === "first"
    ) {
      // Wall times below start + previousOffset were already lived through.
      wallFrom = Math.max(wallFrom, start + previousOffset);
    }
    const end = Math.min(segment.end, horizon + 1);
    // A segment without a match is not followed by a walk through the next
    // ones (a pattern that fires every four years crosses a dozen): the search
    // goes on past the segment's end, and the loop jumps to a little before
    // the wall time it finds. Any later occurrence has its wall time at or
    // after `jumpFrom`, so the first match from there cannot be overtaken.
    const jumpFrom = end + offset - OFFSET_SPREAD_MS;
    const farWall = horizon + 1 + 2 * OFFSET_SPREAD_MS;
    const wall = nextWallTimeMatch(
      pattern,
      wallFrom,
      wallFrom <= jumpFrom ? farWall : end + offset,
    );
    if (wall !== undefined && wall < end + offset) return wall - offset;
    const ahead = wallFrom <= jumpFrom
      ? wall
      : nextWallTimeMatch(pattern, jumpFrom, farWall);
    if (ahead === undefined) return undefined;
    const landing = ahead - offset;
    const there = zone.segmentAt(landing);
    if (
      landing >= end && landing <= horizon && there.offset === offset &&
      there.start + OFFSET_SPREAD_MS <= landing
    ) {
      // Same offset since well before the landing: nothing in between can
      // match, and no daylight-saving rule applies to it.
      return landing;
    }
    from = Math.max(end, ahead - offset - OFFSET_SPREAD_MS);
  }
  return undefined;
}

/**
 * More than any two UTC offsets of one zone differ by (−12 h to +14 h), so
 * that a wall time and the instant it falls on are never further apart in
 * another offset: an occurrence at instant `t` has its matching wall time
 * within `t ± OFFSET_SPREAD_MS` in any zone.
 */
const OFFSET_SPREAD_MS = 2 * 86_400_000;
