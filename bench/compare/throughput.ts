/**
 * Cron next-occurrence throughput: 100 consecutive occurrences of each of four
 * expressions, parse included, in UTC and in America/New_York.
 */
import { type CronWalker, cronWalkers } from "./_cron_walkers.ts";
import { median, ratio, type Section, table, whole } from "./_report.ts";

const EXPRESSIONS = ["*/5 * * * *", "0 9 * * 1-5", "30 2 * * *", "0 0 1 * *"];
const ZONES = ["UTC", "America/New_York"];
const COUNT = 100;
const START = new Date("2026-01-01T00:00:00Z");

function walk(walker: CronWalker, expression: string, zone: string): number[] {
  return walker.walk({ expression, zone, after: START, count: COUNT });
}

/** Occurrences per second over rounds of at least `budgetMs` each. */
function rate(walker: CronWalker, zone: string, budgetMs: number): number {
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    let produced = 0;
    const started = performance.now();
    let elapsed = 0;
    do {
      for (const expression of EXPRESSIONS) {
        produced += walk(walker, expression, zone).length;
      }
      elapsed = performance.now() - started;
    } while (elapsed < budgetMs);
    rounds.push(produced / elapsed * 1000);
  }
  return median(rounds);
}

/** Runs the measurement and returns its section of RESULTS.md. */
export function measureThroughput(): Section {
  const all = cronWalkers();
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  for (const zone of ZONES) {
    const reference = new Map(
      EXPRESSIONS.map((e) => [e, walk(all[0], e, zone)]),
    );
    for (const contender of all) {
      rate(contender, zone, 50); // warm up the JIT
    }
    const rates = all.map((contender) => rate(contender, zone, 250));
    all.forEach((contender, index) => {
      // A library that counts from now cannot list the same instants.
      const differing = !contender.fromNow
        ? EXPRESSIONS.filter((expression) =>
          walk(contender, expression, zone).join() !==
            reference.get(expression)!.join()
        )
        : null;
      rows.push([
        zone,
        contender.name,
        whole(rates[index]),
        index === 0 ? "1×" : ratio(rates[0] / rates[index]),
        differing === null
          ? "n/a (starts at now)"
          : differing.length === 0
          ? "all 400 equal"
          : `differs on ${differing.map((e) => `\`${e}\``).join(", ")}`,
      ]);
    });
  }
  for (const contender of all) {
    notes.push(`- ${contender.name}: ${contender.api}`);
  }
  return {
    title: "Cron next-occurrence throughput",
    body: [
      `${COUNT} consecutive occurrences of each of ${
        EXPRESSIONS.map((e) => `\`${e}\``).join(", ")
      } after ${START.toISOString()}, the parse included, repeated for at least 250 ms; the median of 5 rounds after a warm-up. "ours ÷ peer" is how many times more occurrences per second ours computes.`,
      "",
      notes.join("\n"),
      "",
      table(
        [
          "zone",
          "library",
          "occurrences/s",
          "ours ÷ peer",
          "same instants as ours",
        ],
        rows,
      ),
    ].join("\n"),
  };
}
