/**
 * Where a zone's UTC offset changes, asked of the platform: `Temporal` lists
 * the changes themselves where it exists (ES2026; Deno 2.9, recent browsers);
 * elsewhere (Node 20–24; Bun 1.4 has `Temporal`) `Intl` probes the offset
 * every four weeks and each change between two probes is located
 * (`_locate_change.ts`): first among the instants at which zones change their
 * clocks, then by bisection to the millisecond. 15 `Intl` calls a year and
 * about 5 a change, where probing once a day took about 370.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { DAY_MS } from "./_civil.ts";
import { ChangeHints, type OffsetTransition } from "./_change_hints.ts";
import { locateChange } from "./_locate_change.ts";

export type { OffsetTransition };

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

/**
 * The longest stretch between two offset probes without `Temporal` (a year
 * and its three look-back days take 14 steps of about 26 days). Two changes
 * that undo each other in less time can both fall between two probes and go
 * unseen. Across every zone from 1970 to 2040
 * (`tests/time_zone_intl_path_test.ts`) that happens three times: the
 * summer time of San Luis (Argentina) from 30 December 2007 to 21 January
 * 2008 is missed in 2008, and so is the week Gaza and Hebron are predicted
 * to pause daylight saving in October 2040.
 * Ramadan pauses of four weeks or more (Morocco, Egypt, Palestine) are seen.
 */
export const MAX_PROBE_STEP_MS: number = 28 * DAY_MS;

/** The offset changes of one zone, and how many platform calls they took. */
export class ZoneChanges {
  readonly #zone: string;
  readonly #format: Intl.DateTimeFormat;
  readonly #temporal: TemporalLike | undefined;
  readonly #hints = new ChangeHints();
  readonly #probe = (instant: number) => this.offsetAt(instant);
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

  /** Whether the changes come from `Temporal`. */
  get usesTemporal(): boolean {
    return this.#temporal !== undefined;
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
   * The offset at `from` and every change in `(from, end)`, from offset
   * probes at most {@linkcode MAX_PROBE_STEP_MS} apart, each change between
   * two probes located by `locateChange`.
   */
  #sampleChanges(from: number, end: number): ChangesFrom {
    const last = end - 1;
    const steps = Math.max(1, Math.ceil((last - from) / MAX_PROBE_STEP_MS));
    let low = from;
    let lowOffset = this.offsetAt(low);
    const offset = lowOffset;
    const transitions: OffsetTransition[] = [];
    for (let step = 1; step <= steps; step++) {
      const high = step === steps
        ? last
        : from + Math.floor((last - from) * step / steps);
      const highOffset = this.offsetAt(high);
      while (lowOffset !== highOffset) {
        const change = locateChange(
          this.#probe,
          { low, high, offset: lowOffset, highOffset },
          this.#hints,
        );
        this.#hints.record(change, lowOffset);
        transitions.push(change);
        low = change.at;
        lowOffset = change.offset;
      }
      low = high;
    }
    return { offset, transitions };
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
