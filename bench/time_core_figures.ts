/**
 * Time core figures, printed by `deno task bench`:
 *
 * 1. What a new zone-year costs: calls into `Intl` and `Temporal` for the
 *    first instant of a year in a zone not seen before (aim: ≤ 30; croner
 *    makes about 6 per occurrence instead of caching the year).
 * 2. A sparse cron (`0 0 29 2 *`, `0 0 13 * FRI`) against a dense one
 *    (`0 0 * * *`) in America/New_York: time per occurrence, stepping
 *    through consecutive occurrences (aim: ≤ 3× the dense one).
 */
import { CronSchedule } from "../mod.ts";
import { TimeZoneRules } from "../src/schedule/_time_zone.ts";

const ZONES = [
  "America/New_York",
  "Europe/Berlin",
  "Australia/Sydney",
  "Australia/Lord_Howe",
  "America/Santiago",
  "Africa/Casablanca",
  "Asia/Kolkata",
];

console.log("1. calls into Intl and Temporal per new zone-year (aim: ≤ 30)");
for (const temporal of [true, false]) {
  const counts = ZONES.map((zone) => {
    const rules = new TimeZoneRules(zone, { temporal });
    const before = rules.intlCalls;
    rules.offsetAt(Date.UTC(2027, 6, 1));
    return rules.intlCalls - before;
  });
  console.log(
    `   ${temporal ? "with Temporal (Deno 2.9)" : "Intl only (Node, Bun)"}: ${
      Math.min(...counts)
    }–${Math.max(...counts)} over ${ZONES.join(", ")}`,
  );
}

const ZONE = "America/New_York";
const STEPS = 200;
const start = Date.UTC(2026, 0, 1);

function nsPerOccurrence(cron: CronSchedule): number {
  const started = performance.now();
  let at = start;
  for (let i = 0; i < STEPS; i++) at = cron.nextAfterMs(at, ZONE)!;
  return (performance.now() - started) * 1e6 / STEPS;
}

const dense = CronSchedule.parse("0 0 * * *");
const sparse = ["0 0 29 2 *", "0 0 13 * FRI"].map((e) => CronSchedule.parse(e));
// Every zone-year the sparse patterns reach is scanned before timing.
for (const cron of [dense, ...sparse]) {
  for (let i = 0; i < 20; i++) nsPerOccurrence(cron);
}
// The best of 41 interleaved rounds: other work on the machine only ever
// slows a round down.
const best = (values: number[]) => Math.min(...values);
const rounds = new Map<CronSchedule, number[]>();
for (let round = 0; round < 41; round++) {
  for (const cron of [dense, ...sparse]) {
    const list = rounds.get(cron) ?? [];
    list.push(nsPerOccurrence(cron));
    rounds.set(cron, list);
  }
}
const denseNs = best(rounds.get(dense)!);
console.log(
  `2. sparse vs dense cron in ${ZONE}, ${STEPS} consecutive occurrences (best of 41)`,
);
console.log(`   dense \`0 0 * * *\`: ${denseNs.toFixed(0)} ns per occurrence`);
for (const cron of sparse) {
  const ns = best(rounds.get(cron)!);
  console.log(
    `   sparse \`${cron}\`: ${ns.toFixed(0)} ns per occurrence = ${
      (ns / denseNs).toFixed(2)
    }× the dense one (aim: ≤ 3×)`,
  );
}
