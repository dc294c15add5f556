/**
 * A zone-year costs few `Intl` calls and finds exactly the offset changes
 * that sampling every day and bisecting to the millisecond finds (the slow,
 * obvious method), across zones whose clocks change at unusual hours, on
 * unusual days, by unusual amounts, or twice a year for Ramadan.
 */
import assert from "node:assert/strict";
import { TimeZoneRules } from "../src/schedule/_time_zone.ts";

const DAY = 86_400_000;

/** Offset in ms at an instant, straight from `Intl`. */
function offsetFrom(format: Intl.DateTimeFormat, at: number): number {
  const text = format.format(at);
  const match = /GMT(?:([+-])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?)?$/.exec(text);
  if (match === null || match[1] === undefined) return 0;
  const sign = match[1] === "-" ? -1 : 1;
  return sign *
    ((Number(match[2]) * 60 + Number(match[3] ?? 0)) * 60 +
      Number(match[4] ?? 0)) *
    1000;
}

/** Every change of offset in a UTC calendar year, sampled daily. */
function slowChanges(zone: string, year: number): [number, number][] {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    timeZoneName: "longOffset",
  });
  const start = Date.UTC(year, 0, 1);
  const end = Date.UTC(year + 1, 0, 1);
  const changes: [number, number][] = [];
  let low = start - 1;
  let offset = offsetFrom(format, low);
  for (let at = start; at < end + DAY; at += DAY) {
    const sample = Math.min(at, end - 1);
    const next = offsetFrom(format, sample);
    if (next !== offset) {
      let [a, b] = [low, sample];
      while (b - a > 1) {
        const m = Math.floor((a + b) / 2);
        if (offsetFrom(format, m) === offset) a = m;
        else b = m;
      }
      changes.push([b, next]);
    }
    low = sample;
    offset = next;
    if (sample === end - 1) break;
  }
  return changes;
}

/** The changes the rules know of, read back through `segmentAt`. */
function rulesChanges(rules: TimeZoneRules, year: number): [number, number][] {
  const end = Date.UTC(year + 1, 0, 1);
  const changes: [number, number][] = [];
  let at = Date.UTC(year, 0, 1);
  while (at < end) {
    const segment = rules.segmentAt(at);
    if (segment.end >= end) break;
    at = segment.end;
    changes.push([at, rules.offsetAt(at)]);
  }
  return changes;
}

const ZONES = [
  "America/New_York",
  "Europe/Berlin",
  "Europe/London",
  "Australia/Sydney",
  "Australia/Lord_Howe",
  "America/Santiago",
  "America/Sao_Paulo",
  "Africa/Casablanca",
  "Africa/Cairo",
  "Asia/Tehran",
  "Asia/Jerusalem",
  "Pacific/Apia",
  "America/Havana",
  "Asia/Kolkata",
  "Pacific/Chatham",
];

for (const temporal of [true, false]) {
  const path = temporal ? "Temporal" : "Intl sampling";
  Deno.test(`${path}: each zone-year finds the changes of a daily scan, 1970–2040`, () => {
    for (const zone of ZONES) {
      const rules = new TimeZoneRules(zone, { temporal });
      for (let year = 1970; year <= 2040; year++) {
        assert.deepEqual(
          rulesChanges(rules, year),
          slowChanges(zone, year),
          `${zone} ${year}`,
        );
      }
    }
  });
}

Deno.test("a new zone-year costs at most 30 calls into Intl and Temporal", () => {
  // Deno ships Temporal; without it (Node 20–24) a zone-year probes
  // Intl every four weeks, as checked below and in
  // tests/time_zone_intl_path_test.ts.
  assert.equal(
    typeof (globalThis as { Temporal?: unknown }).Temporal,
    "object",
  );
  for (const zone of ZONES) {
    for (const year of [1995, 2010, 2026, 2031]) {
      const rules = new TimeZoneRules(zone);
      const before = rules.intlCalls;
      rules.offsetAt(Date.UTC(year, 6, 1));
      const calls = rules.intlCalls - before;
      assert.ok(calls >= 2 && calls <= 30, `${zone} ${year}: ${calls} calls`);
    }
  }
});

Deno.test("without Temporal, a zone-year probes Intl every four weeks and locates each change in a few calls", () => {
  const rules = new TimeZoneRules("America/New_York", { temporal: false });
  const before = rules.intlCalls;
  rules.offsetAt(Date.UTC(2026, 6, 1));
  // 3 look-back days + 365 days in 14 steps of at most 28 days: 15 probes;
  // the 2 changes (Sundays at 02:00 local) in at most 5 calls each.
  const calls = rules.intlCalls - before;
  assert.ok(calls >= 15 + 2 && calls <= 15 + 2 * 5, `${calls} calls`);
});

Deno.test("a fixed-offset zone costs one call, ever", () => {
  const rules = new TimeZoneRules("Etc/GMT-3");
  rules.offsetAt(Date.UTC(2026, 6, 1));
  rules.segmentAt(Date.UTC(2031, 6, 1));
  assert.equal(rules.intlCalls, 1);
});
