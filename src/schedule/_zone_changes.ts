/**
 * Where a zone's UTC offset changes, asked of the platform: `Temporal` lists
 * the changes themselves where it exists (ES2026; Deno 2.9, recent browsers);
 * elsewhere (Node 20–24, Bun) `Intl` samples the offset once a day and each
 * change between two samples is located: first at the hours at which zones
 * change their clocks, then by bisection to the millisecond.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { DAY_MS, HOUR_MS } from "./_civil.ts";

/** A change of UTC offset: from `at` on, local time is `at + offset`. */
export interface OffsetTransition {
  readonly at: number;
  readonly offset: number;
}

/** The offset at the start of a stretch of time and every change in it. */
export interface ChangesFrom {
  /** The offset at the start. */
  readonly offset: number;
  readonly transitions: readonly OffsetTransition[];
}

const OFFSET_TEXT = /GMT(?:([+-])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?)?$/;

/** The part of `Temporal` (ES2026) this file uses. */
interface TemporalLike {
  readonly Instant: {
    fromEpochMilliseconds(ms: number): {
      toZonedDateTimeISO(zone: string): ZonedLike;
    };
  };
}

interface ZonedLike {
  readonly epochMilliseconds: number;
  readonly offsetNanoseconds: number;
  getTimeZoneTransition(direction: "next"): ZonedLike | null;
}

function platformTemporal(): TemporalLike | undefined {
  const temporal = (globalThis as { Temporal?: TemporalLike }).Temporal;
  return typeof temporal?.Instant?.fromEpochMilliseconds === "function"
    ? temporal
    : undefined;
}

/** Local hours (in the offset before the change) at which clocks change. */
const LIKELY_LOCAL_HOURS = [2, 3, 1, 0];

/**
 * Instants in `(low, high]` (at most a day apart) where a change of offset
 * usually happens: 02:00, 03:00, 01:00 or 00:00 local time before the change
 * (America, Oceania, Asia), or 01:00 UTC (the European Union). Only a guess:
 * each is checked, and a miss costs a bisection.
 */
function likelyChanges(low: number, high: number, offset: number): number[] {
  const candidates: number[] = [];
  const firstLocalDay = Math.floor((low + offset) / DAY_MS) * DAY_MS;
  for (const hour of LIKELY_LOCAL_HOURS) {
    for (let day = firstLocalDay; day <= high + offset; day += DAY_MS) {
      candidates.push(day + hour * HOUR_MS - offset);
    }
  }
  for (
    let day = Math.floor(low / DAY_MS) * DAY_MS;
    day <= high;
    day += DAY_MS
  ) {
    candidates.push(day + HOUR_MS);
  }
  return candidates;
}

/** The offset changes of one zone, and how many platform calls they took. */
export class ZoneChanges {
  readonly #zone: string;
  readonly #format: Intl.DateTimeFormat;
  readonly #temporal: TemporalLike | undefined;
  #calls = 0;

  /**
   * @param format Formats the zone's `longOffset`, already checked.
   * @param useTemporal `false` to sample `Intl` even where `Temporal` exists.
   */
  constructor(zone: string, format: Intl.DateTimeFormat, useTemporal: boolean) {
    this.#zone = zone;
    this.#format = format;
    this.#temporal = useTemporal ? platformTemporal() : undefined;
  }

  /** Calls made into `Intl` or `Temporal` so far. */
  get calls(): number {
    return this.#calls;
  }

  /** The offset at `from` and every change in `(from, end)`. */
  between(from: number, end: number): ChangesFrom {
    return this.#temporal === undefined
      ? this.#sampleChanges(from, end)
      : this.#temporalChanges(this.#temporal, from, end);
  }

  /** The offset at `from` and every change in `(from, end)`, from Temporal. */
  #temporalChanges(
    temporal: TemporalLike,
    from: number,
    end: number,
  ): ChangesFrom {
    this.#calls++;
    let zoned = temporal.Instant.fromEpochMilliseconds(from)
      .toZonedDateTimeISO(this.#zone);
    const offset = zoned.offsetNanoseconds / 1e6;
    const transitions: OffsetTransition[] = [];
    for (;;) {
      this.#calls++;
      const next = zoned.getTimeZoneTransition("next");
      if (next === null || next.epochMilliseconds >= end) break;
      transitions.push({
        at: next.epochMilliseconds,
        offset: next.offsetNanoseconds / 1e6,
      });
      zoned = next;
    }
    return { offset, transitions };
  }

  /**
   * The offset at `from` and every change in `(from, end)`, by sampling once
   * a day: two changes less than a day apart that cancel out go unseen.
   */
  #sampleChanges(from: number, end: number): ChangesFrom {
    let low = from;
    let lowOffset = this.offsetAt(low);
    const offset = lowOffset;
    const transitions: OffsetTransition[] = [];
    for (let high = from + DAY_MS; low < end - 1; high += DAY_MS) {
      if (high > end - 1) high = end - 1;
      const highOffset = this.offsetAt(high);
      while (lowOffset !== highOffset) {
        const change = this.#locate(low, high, lowOffset);
        transitions.push(change);
        low = change.at;
        lowOffset = change.offset;
      }
      low = high;
    }
    return { offset, transitions };
  }

  /**
   * The first change of offset in `(low, high]`, given the offset at `low`
   * and a different one at `high`. Narrows to the day, then tries the local
   * and UTC hours at which zones change their clocks, then bisects what is
   * left to the millisecond.
   */
  #locate(low: number, high: number, offset: number): OffsetTransition {
    let changed = NaN;
    while (high - low > DAY_MS) {
      const days = Math.ceil((high - low) / DAY_MS);
      const middle = low + Math.floor(days / 2) * DAY_MS;
      const sample = this.offsetAt(middle);
      if (sample === offset) low = middle;
      else [high, changed] = [middle, sample];
    }
    for (const candidate of likelyChanges(low, high, offset)) {
      if (!(candidate > low && candidate <= high)) continue;
      const sample = this.offsetAt(candidate);
      if (sample === offset) {
        low = candidate;
        continue;
      }
      [high, changed] = [candidate, sample];
      if (candidate - 1 === low) break;
      if (this.offsetAt(candidate - 1) === offset) {
        return { at: candidate, offset: sample };
      }
      high = candidate - 1;
      changed = NaN;
    }
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      const sample = this.offsetAt(middle);
      if (sample === offset) low = middle;
      else [high, changed] = [middle, sample];
    }
    return {
      at: high,
      offset: Number.isNaN(changed) ? this.offsetAt(high) : changed,
    };
  }

  /** The UTC offset at an instant: one `Intl` call. */
  offsetAt(instant: number): number {
    this.#calls++;
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
