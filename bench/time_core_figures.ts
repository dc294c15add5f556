/**
 * Time core figures, printed by `deno task bench`, on both paths: with
 * `Temporal` (Deno) and with `Intl` only (Node 20–24; here, Deno with
 * `Temporal` hidden):
 *
 * 1. What a new zone-year costs: calls into `Intl` and `Temporal` for the
 *    first instant of a year in a zone not seen before (aim: ≤ 30; croner
 *    makes about 6 per occurrence instead of caching the year). The floor
 *    beside it: the `Temporal` path, which asks for each change directly.
 * 2. A sparse cron (`0 0 29 2 *`, `0 0 13 * FRI`) against a dense one
 *    (`0 0 * * *`, the floor) in America/New_York: time per occurrence,
 *    stepping through consecutive occurrences (aim: ≤ 3× the dense one).
 *    The `Intl` path runs in a child process (`--without-temporal`) that
 *    hides `Temporal` before the library loads.
 */
const withoutTemporal = Deno.args.includes("--without-temporal");
if (withoutTemporal) delete (globalThis as { Temporal?: unknown }).Temporal;
const { CronSchedule } = await import("../mod.ts");
const { TimeZoneRules, timeZoneRules } = await import(
  "../src/schedule/_time_zone.ts"
);
type Cron = ReturnType<typeof CronSchedule.parse>;

const ZONES: [string, number][] = [
  ["America/New_York", 2027],
  ["Europe/London", 2027],
  ["Asia/Tokyo", 2027],
  ["UTC", 2027],
  ["Australia/Lord_Howe", 2027],
  ["America/Sao_Paulo", 2019],
  ["Pacific/Apia", 2011],
  ["Europe/Berlin", 2027],
  ["Australia/Sydney", 2027],
  ["America/Santiago", 2027],
  ["Africa/Casablanca", 2027],
  ["Asia/Kolkata", 2027],
];

/** Calls for the first instant of `year` in a zone not seen before. */
function newZoneYear(zone: string, year: number, temporal: boolean): number {
  const rules = new TimeZoneRules(zone, { temporal });
  const before = rules.intlCalls;
  rules.offsetAt(Date.UTC(year, 6, 1));
  return rules.intlCalls - before;
}

function cronFigures(label: string) {
  const ZONE = "America/New_York";
  const STEPS = 200;
  const start = Date.UTC(2026, 0, 1);
  console.log(
    `   ${label} (the zone's rules from ${
      timeZoneRules(ZONE).usesTemporal ? "Temporal" : "Intl probes"
    }):`,
  );

  function nsPerOccurrence(cron: Cron): number {
    const started = performance.now();
    let at = start;
    for (let i = 0; i < STEPS; i++) at = cron.nextAfterMs(at, ZONE)!;
    return (performance.now() - started) * 1e6 / STEPS;
  }

  const dense = CronSchedule.parse("0 0 * * *");
  const sparse = ["0 0 29 2 *", "0 0 13 * FRI"].map((e) =>
    CronSchedule.parse(e)
  );
  // Every zone-year the sparse patterns reach is scanned before timing.
  for (const cron of [dense, ...sparse]) {
    for (let i = 0; i < 20; i++) nsPerOccurrence(cron);
  }
  // The best of 41 interleaved rounds: other work on the machine only ever
  // slows a round down.
  const best = (values: number[]) => Math.min(...values);
  const rounds = new Map<Cron, number[]>();
  for (let round = 0; round < 41; round++) {
    for (const cron of [dense, ...sparse]) {
      const list = rounds.get(cron) ?? [];
      list.push(nsPerOccurrence(cron));
      rounds.set(cron, list);
    }
  }
  const denseNs = best(rounds.get(dense)!);
  console.log(
    `     dense \`0 0 * * *\` (the floor): ${
      denseNs.toFixed(0)
    } ns per occurrence`,
  );
  for (const cron of sparse) {
    const ns = best(rounds.get(cron)!);
    console.log(
      `     sparse \`${cron}\`: ${ns.toFixed(0)} ns per occurrence = ${
        (ns / denseNs).toFixed(2)
      }× the dense one (aim: ≤ 3×)`,
    );
  }
}

if (withoutTemporal) {
  cronFigures("Intl only (Node 20–24)");
} else {
  console.log(
    "1. calls into Intl and Temporal per new zone-year (aim: ≤ 30 Intl only; floor: the Temporal path)",
  );
  for (const [zone, year] of ZONES) {
    const intl = newZoneYear(zone, year, false);
    const temporal = newZoneYear(zone, year, true);
    console.log(
      `   ${zone} ${year}: Intl only ${intl}, with Temporal ${temporal} (${
        intl <= 30 ? "≤ 30" : "over 30"
      })`,
    );
  }
  // Every zone the platform knows, every third year: how the cost spreads.
  const counts: number[] = [];
  for (const zone of Intl.supportedValuesOf("timeZone")) {
    for (let year = 1970; year <= 2040; year += 3) {
      counts.push(newZoneYear(zone, year, false));
    }
  }
  counts.sort((a, b) => a - b);
  const at = (share: number) => counts[Math.floor(share * (counts.length - 1))];
  const within = counts.filter((count) => count <= 30).length;
  console.log(
    `   Intl only, ${counts.length} zone-years (every zone, every third year 1970–2040): median ${
      at(0.5)
    }, 90th percentile ${at(0.9)}, 99th ${at(0.99)}, most ${counts.at(-1)}; ${
      (100 * within / counts.length).toFixed(1)
    } % ≤ 30`,
  );
  console.log(
    "2. sparse vs dense cron in America/New_York, 200 consecutive occurrences (best of 41)",
  );
  cronFigures("with Temporal (Deno)");
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL(import.meta.url).pathname,
      "--without-temporal",
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!child.success) Deno.exit(1);
}
