/**
 * The time-zone path of runtimes without `Temporal` (Node 20–24), run in
 * Deno with `Temporal` hidden: a new zone-year costs at most 30 calls into
 * `Intl` (counted by wrapping `Intl.DateTimeFormat` itself), and what it finds
 * agrees with the `Temporal` path for every hour of the year, for cron
 * occurrences too; across every zone the platform knows, 1970–2040, it misses
 * only changes that undo each other between two of its probes.
 */
import assert from "node:assert/strict";
import { parseCronPattern } from "../src/schedule/_cron_pattern.ts";
import { nextZonedOccurrence } from "../src/schedule/_cron_zoned.ts";
import { TimeZoneRules } from "../src/schedule/_time_zone.ts";
import { MAX_PROBE_STEP_MS } from "../src/schedule/_zone_changes.ts";
import { resolveDstRules } from "../src/schedule/dst_policy.ts";

const HOUR = 3_600_000;

type Global = { Temporal?: unknown };

/**
 * Runs `body` with `Temporal` hidden and every call into
 * `Intl.DateTimeFormat` counted: constructing one, `format` (an accessor
 * that hands out a bound function), `formatToParts`, `formatRange`,
 * `formatRangeToParts` and `resolvedOptions`.
 */
function countIntlWithoutTemporal<T>(body: () => T): [T, number] {
  const global = globalThis as Global;
  const temporal = global.Temporal;
  const Original = Intl.DateTimeFormat;
  const prototype = Original.prototype;
  const saved = new Map<string, PropertyDescriptor>();
  let calls = 0;
  const counted = <F extends (...args: never[]) => unknown>(fn: F) =>
    function (this: unknown, ...args: Parameters<F>) {
      calls++;
      return fn.apply(this, args);
    };
  for (
    const name of [
      "format",
      "formatToParts",
      "formatRange",
      "formatRangeToParts",
      "resolvedOptions",
    ]
  ) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name)!;
    saved.set(name, descriptor);
    Object.defineProperty(
      prototype,
      name,
      descriptor.get
        ? {
          ...descriptor,
          get(this: Intl.DateTimeFormat) {
            return counted(descriptor.get!.call(this));
          },
        }
        : { ...descriptor, value: counted(descriptor.value) },
    );
  }
  Intl.DateTimeFormat = new Proxy(Original, {
    construct(target, args, newTarget) {
      calls++;
      return Reflect.construct(target, args, newTarget);
    },
    apply(target, self, args) {
      calls++;
      return Reflect.apply(target, self, args);
    },
  });
  delete global.Temporal;
  try {
    return [body(), calls];
  } finally {
    global.Temporal = temporal;
    Intl.DateTimeFormat = Original;
    for (const [name, descriptor] of saved) {
      Object.defineProperty(prototype, name, descriptor);
    }
  }
}

/** A zone's rules on the Intl path, built while Temporal is hidden. */
function intlRules(zone: string): TimeZoneRules {
  const [rules] = countIntlWithoutTemporal(() => new TimeZoneRules(zone));
  assert.equal(rules.usesTemporal, false);
  return rules;
}

const CHEAP_YEARS: [string, number[]][] = [
  // two changes a year
  ["America/New_York", [2019, 2026, 2027]],
  ["Europe/London", [2019, 2026, 2027]],
  // none
  ["Asia/Tokyo", [2026]],
  ["UTC", [2026]],
  // a 30-minute change, in a zone 10:30 ahead of UTC
  ["Australia/Lord_Howe", [2019, 2026, 2027]],
  // daylight saving dropped: its last change, then none
  ["America/Sao_Paulo", [2018, 2019, 2020]],
];

Deno.test("without Temporal, a new zone-year costs at most 30 calls into Intl, the rules' own count included", () => {
  for (const [zone, years] of CHEAP_YEARS) {
    for (const year of years) {
      const [rules, calls] = countIntlWithoutTemporal(() => {
        const rules = new TimeZoneRules(zone);
        rules.offsetAt(Date.UTC(year, 6, 1));
        return rules;
      });
      assert.equal(rules.usesTemporal, false);
      assert.ok(calls <= 30, `${zone} ${year}: ${calls} Intl calls`);
      // The count the benchmark prints is the real one: it misses only the
      // formatter's construction and its resolvedOptions().
      assert.equal(calls, rules.intlCalls + 2, `${zone} ${year}`);
    }
  }
});

Deno.test("without Temporal, a zone-year the rules know costs nothing more", () => {
  const rules = intlRules("Europe/London");
  const [, first] = countIntlWithoutTemporal(() =>
    rules.segmentAt(Date.UTC(2026, 2, 1))
  );
  assert.ok(first > 0);
  const [, again] = countIntlWithoutTemporal(() => {
    for (let at = Date.UTC(2026, 0, 1); at < Date.UTC(2027, 0, 1); at += HOUR) {
      rules.offsetAt(at);
      rules.segmentAt(at);
    }
  });
  assert.equal(again, 0);
});

/** Zone-years whose changes are unusual, and where both paths must agree. */
const AGREEING_YEARS: [string, number][] = [
  ["America/New_York", 2026],
  ["Europe/London", 2026],
  ["Asia/Tokyo", 2026],
  ["UTC", 2026],
  ["Australia/Lord_Howe", 2026],
  ["America/Sao_Paulo", 2018],
  ["America/Sao_Paulo", 2019],
  // Three changes, the last across the date line: 30 December skipped.
  ["Pacific/Apia", 2011],
  // Four changes: daylight saving paused for Ramadan.
  ["Africa/Cairo", 2010],
  ["Africa/Casablanca", 2026],
];

Deno.test("the Intl path and the Temporal path agree on every hour of unusual zone-years", () => {
  for (const [zone, year] of AGREEING_YEARS) {
    const intl = intlRules(zone);
    const temporal = new TimeZoneRules(zone);
    assert.equal(temporal.usesTemporal, true);
    const end = Date.UTC(year + 1, 0, 1);
    let changes = 0;
    for (let at = Date.UTC(year, 0, 1); at < end; at += HOUR) {
      const segment = temporal.segmentAt(at);
      assert.deepEqual(intl.segmentAt(at), segment, `${zone} ${at}`);
      assert.equal(intl.offsetAt(at), temporal.offsetAt(at), `${zone} ${at}`);
      if (segment.startIsTransition && segment.start > at - HOUR) changes++;
    }
    const fixed = zone === "UTC" || zone === "Asia/Tokyo";
    assert.ok(fixed ? changes === 0 : changes > 0, `${zone} ${year}`);
  }
});

Deno.test("the Intl path and the Temporal path fire cron patterns at the same instants", () => {
  const expressions = [
    "0 0 29 2 *",
    "0 0 13 * FRI",
    "30 2 * * *",
    "30 1 * * *",
    "*/15 * * * *",
    "0 0 * * *",
  ];
  for (const [zone, year] of AGREEING_YEARS) {
    const intl = intlRules(zone);
    const temporal = new TimeZoneRules(zone);
    for (const expression of expressions) {
      const pattern = parseCronPattern(expression);
      const rules = resolveDstRules(!expression.startsWith("*"), undefined);
      const end = Date.UTC(year + 1, 0, 1);
      let at = Date.UTC(year, 0, 1) - 1;
      for (let step = 0; at < end && step < 40_000; step++) {
        const next = nextZonedOccurrence(pattern, at, temporal, rules);
        assert.equal(
          nextZonedOccurrence(pattern, at, intl, rules),
          next,
          `${expression} in ${zone} after ${new Date(at).toISOString()}`,
        );
        if (next === undefined) break;
        at = next;
      }
    }
  }
});

interface TemporalZoned {
  epochMilliseconds: number;
  offsetNanoseconds: number;
  getTimeZoneTransition(direction: "previous" | "next"): TemporalZoned | null;
}

/** A zone's time at an instant, straight from Temporal. */
function zoned(zone: string, at: number): TemporalZoned {
  return (globalThis as {
    Temporal: {
      Instant: {
        fromEpochMilliseconds(ms: number): {
          toZonedDateTimeISO(zone: string): TemporalZoned;
        };
      };
    };
  }).Temporal.Instant.fromEpochMilliseconds(at).toZonedDateTimeISO(zone);
}

/** Every change of a zone in `[start, end)`, straight from Temporal. */
function temporalChanges(zone: string, start: number, end: number): number[] {
  let at = zoned(zone, start - 1);
  const changes: number[] = [];
  for (;;) {
    const next = at.getTimeZoneTransition("next");
    if (next === null || next.epochMilliseconds >= end) return changes;
    changes.push(next.epochMilliseconds);
    at = next;
  }
}

/** The changes the rules know of in a year, read back through segmentAt. */
function rulesChanges(rules: TimeZoneRules, year: number): number[] {
  const end = Date.UTC(year + 1, 0, 1);
  const changes: number[] = [];
  let at = Date.UTC(year, 0, 1);
  for (;;) {
    const segment = rules.segmentAt(at);
    if (segment.end >= end) return changes;
    at = segment.end;
    changes.push(at);
  }
}

Deno.test("across every zone, 1970–2040, the Intl path is wrong only between two changes that undo each other within a probe step", () => {
  let compared = 0;
  const wrong: string[] = [];
  for (const zone of Intl.supportedValuesOf("timeZone")) {
    const intl = intlRules(zone);
    const offset = (at: number) => zoned(zone, at).offsetNanoseconds / 1e6;
    for (let year = 1970; year <= 2040; year++) {
      const start = Date.UTC(year, 0, 1);
      const truth = temporalChanges(zone, start, Date.UTC(year + 1, 0, 1));
      const found = rulesChanges(intl, year);
      compared += truth.length;
      for (const at of found) {
        // Every change found is a real one, to the millisecond.
        assert.notEqual(offset(at - 1), offset(at), `${zone} at ${at}`);
      }
      // Where the two disagree: from a real change to the next real change
      // (through the year's ends), and for less than a probe step.
      const end = Date.UTC(year + 1, 0, 1);
      const breakpoints = [...new Set([start, ...truth, ...found, end])]
        .sort((a, b) => a - b);
      let wrongSince: number | undefined;
      for (const at of breakpoints) {
        const right = at === end || intl.offsetAt(at) === offset(at);
        if (!right && wrongSince === undefined) {
          wrongSince = truth.includes(at)
            ? at
            : zoned(zone, at).getTimeZoneTransition("previous")!
              .epochMilliseconds;
        } else if (right && wrongSince !== undefined) {
          const until = truth.includes(at) ? at : zoned(zone, at - 1)
            .getTimeZoneTransition("next")!.epochMilliseconds;
          const where = `${zone} ${new Date(wrongSince).toISOString()}`;
          assert.ok(until - wrongSince < MAX_PROBE_STEP_MS, where);
          wrong.push(where);
          wrongSince = undefined;
        }
      }
    }
  }
  assert.ok(compared > 20_000, `${compared} changes compared`);
  // The short-lived changes named in src/schedule/_zone_changes.ts.
  assert.ok(wrong.length <= 5, wrong.join(", "));
});
