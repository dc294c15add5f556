/**
 * Where exactly a zone's UTC offset changes between two instants whose
 * offsets differ, with as few offset probes (`Intl` calls) as possible: the
 * path of runtimes without `Temporal` (`_zone_changes.ts`).
 *
 * Clocks change at a few local times of day and, mostly, on Sundays (in the
 * tz database 1970–2040: 92 % of changes on a Sunday, 55 % at 02:00 local
 * time before the change, 21 % at 03:00, 14 % at midnight). So the search
 * first bisects over those likely instants, each weighted by how likely it
 * is, which places a Sunday 02:00 change among four weeks in about four
 * probes; the zone's own earlier changes (their times of day, weekdays and
 * dates) raise the weights further. One more probe, a millisecond before the
 * instant found, proves the change is exactly there; when it is not, a
 * bisection over whole minutes, then seconds, then milliseconds finds it.
 * Every answer is a proven change, whatever the guesses.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { DAY_MS, MINUTE_MS, weekdayOfDays } from "./_civil.ts";
import type { ChangeHints, OffsetTransition } from "./_change_hints.ts";

export type { OffsetTransition };

/** The UTC offset (ms) at an instant, asked of the platform. */
export type OffsetProbe = (instant: number) => number;

/**
 * Local times of day (minutes, in the offset before the change) at which
 * clocks change, with a weight for how common each is in the tz database.
 */
const LIKELY_MINUTES: readonly (readonly [number, number])[] = [
  [2 * 60, 550],
  [3 * 60, 210],
  [0, 137],
  [1 * 60, 44],
  [4 * 60, 28],
  [22 * 60, 8],
  [1, 6], // 00:01, Newfoundland and Labrador until 2011
  [23 * 60, 5],
  [2 * 60 + 45, 3], // Chatham Islands
  [3 * 60 + 45, 3],
  [3 * 60 + 30, 2],
  [2 * 60 + 30, 1],
  [21 * 60, 1],
  [5 * 60, 1],
];

/**
 * Times of day (minutes, UTC) at which clocks change, weighted like
 * {@linkcode LIKELY_MINUTES}: the European Union changes at 01:00 UTC, Chile
 * at 03:00 and 04:00 UTC, whatever the local time.
 */
const LIKELY_UTC_MINUTES: readonly (readonly [number, number])[] = [
  [1 * 60, 300],
  [3 * 60, 5],
  [4 * 60, 5],
];

/** Weight of each weekday (Sunday first) among the changes. */
const WEEKDAY_WEIGHTS = [920, 6, 4, 7, 8, 23, 31];

/** A stretch `(low, high]` in which the offset leaves `offset`. */
interface Bracket {
  low: number;
  high: number;
  /** The offset at `high`, other than `offset`. */
  highOffset: number;
  /** The offset at `low` and before the change. */
  readonly offset: number;
}

/**
 * An instant in `(low, high]` at which the offset changes from `offset` (the
 * offset at `low`), given `highOffset` (another) at `high`, and the offset
 * from then on. When several changes lie between, one of those away from
 * `offset`: the caller goes on from it.
 */
export function locateChange(
  probe: OffsetProbe,
  bracket: { low: number; high: number; offset: number; highOffset: number },
  hints: ChangeHints,
): OffsetTransition {
  const at: Bracket = { ...bracket };
  if (searchLikely(probe, at, hints) || exactlyAtHigh(probe, at)) {
    return { at: at.high, offset: at.highOffset };
  }
  for (const grid of [MINUTE_MS, 1000, 1]) {
    bisectGrid(probe, at, grid);
    if (exactlyAtHigh(probe, at)) break;
  }
  return { at: at.high, offset: at.highOffset };
}

/**
 * Whether the change is at `high` itself: true when the millisecond before
 * it still has the old offset. Otherwise `high` moves one millisecond back.
 */
function exactlyAtHigh(probe: OffsetProbe, at: Bracket): boolean {
  if (at.high - 1 === at.low) return true;
  const before = probe(at.high - 1);
  if (before === at.offset) return true;
  at.high -= 1;
  at.highOffset = before;
  return false;
}

/** Narrows the bracket by probing its instants on a grid of `step` ms. */
function bisectGrid(probe: OffsetProbe, at: Bracket, step: number): void {
  for (;;) {
    let middle = Math.floor((at.low + at.high) / 2 / step) * step;
    if (middle <= at.low) middle += step;
    if (middle >= at.high) return;
    narrow(probe, at, middle);
  }
}

/** Probes one instant inside the bracket and keeps the half with the change. */
function narrow(probe: OffsetProbe, at: Bracket, instant: number): void {
  const sample = probe(instant);
  if (sample === at.offset) {
    at.low = instant;
  } else {
    at.high = instant;
    at.highOffset = sample;
  }
}

/**
 * Narrows the bracket over the likely instants, each probe splitting the
 * remaining weight about in half: either at a likely instant, or a
 * millisecond before `high` (whether the change is exactly at `high`).
 * Returns whether the change is proven to be at `high`; otherwise no likely
 * instant is left inside the bracket.
 */
function searchLikely(
  probe: OffsetProbe,
  at: Bracket,
  hints: ChangeHints,
): boolean {
  const { instants, weights } = likelyInstants(at, hints);
  let first = 0;
  let last = instants.length; // candidates in (low, high): [first, last)
  // The weight of "exactly at high": the candidate probed there, if any.
  let highWeight = 0;
  for (;;) {
    while (last > first && instants[last - 1] >= at.high) last -= 1;
    if (first >= last) return false;
    let total = highWeight;
    for (let i = first; i < last; i++) total += weights[i];
    let split = first;
    let below = weights[first];
    while (split + 1 < last && 2 * (below + weights[split + 1]) <= total) {
      split += 1;
      below += weights[split];
    }
    if (
      split + 1 < last &&
      Math.abs(2 * (below + weights[split + 1]) - total) <
        Math.abs(2 * below - total)
    ) {
      split += 1;
      below += weights[split];
    }
    if (
      highWeight > 0 &&
      Math.abs(2 * highWeight - total) < Math.abs(2 * below - total)
    ) {
      if (exactlyAtHigh(probe, at)) return true;
      highWeight = 0;
      continue;
    }
    const sample = probe(instants[split]);
    if (sample === at.offset) {
      at.low = instants[split];
      first = split + 1;
    } else {
      at.high = instants[split];
      at.highOffset = sample;
      highWeight = weights[split];
      last = split;
    }
  }
}

/** Likely instants of a change strictly inside the bracket, in order. */
function likelyInstants(
  at: Bracket,
  hints: ChangeHints,
): { instants: number[]; weights: number[] } {
  const found = new Map<number, number>();
  addLikely(found, at, at.offset, withKnown(LIKELY_MINUTES, hints.localTimes));
  addLikely(found, at, 0, withKnown(LIKELY_UTC_MINUTES, hints.utcTimes));
  const instants = [...found.keys()].sort((a, b) => a - b);
  const weights = instants.map((instant) =>
    found.get(instant)! * hints.boost(instant, at.offset, at.highOffset)
  );
  return { instants, weights };
}

/** Times of day (ms) with weights: the common ones and the zone's own. */
function withKnown(
  common: readonly (readonly [number, number])[],
  known: ReadonlySet<number>,
): [number, number][] {
  const times = common.map(([minutes, weight]): [number, number] => [
    minutes * MINUTE_MS,
    weight,
  ]);
  for (const time of known) {
    if (!times.some(([common]) => common === time)) times.push([time, 1]);
  }
  return times;
}

/**
 * Adds each day's likely instants inside the bracket with their weights, days
 * and times of day read in the frame `shift` ms ahead of UTC (the offset
 * before the change, or UTC).
 */
function addLikely(
  found: Map<number, number>,
  at: Bracket,
  shift: number,
  times: readonly (readonly [number, number])[],
): void {
  const firstDay = Math.floor((at.low + shift) / DAY_MS);
  const lastDay = Math.floor((at.high + shift) / DAY_MS);
  for (let day = firstDay; day <= lastDay; day++) {
    const dayWeight = WEEKDAY_WEIGHTS[weekdayOfDays(day)];
    for (const [time, weight] of times) {
      const instant = day * DAY_MS + time - shift;
      if (instant > at.low && instant < at.high) {
        found.set(instant, (found.get(instant) ?? 0) + dayWeight * weight);
      }
    }
  }
}
