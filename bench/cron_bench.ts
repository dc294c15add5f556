/**
 * Cron evaluation speed: stepping through 100 consecutive occurrences with
 * `CronSchedule.nextAfterMs`, beside raw cron-parser's iterator on the same
 * expressions, in UTC and in America/New_York. Target: ours at most 1.5× the
 * time of cron-parser (see the "summary" lines of `deno bench`).
 */
import { CronExpressionParser } from "cron-parser";
import { CronSchedule } from "../mod.ts";

const EXPRESSIONS = [
  "*/15 9-17 * * MON-FRI",
  "0 0 1 * *",
  "30 2 * * *",
  "* * * * *",
];
const START = Date.UTC(2026, 0, 1);
const STEPS = 100;

for (const zone of ["UTC", "America/New_York"]) {
  for (const expression of EXPRESSIONS) {
    const group = `${zone} \`${expression}\` ×${STEPS}`;
    const cron = CronSchedule.parse(expression);
    Deno.bench({
      name: `cron-parser ${group}`,
      group,
      baseline: true,
      fn() {
        const iterator = CronExpressionParser.parse(expression, {
          currentDate: new Date(START),
          tz: zone,
        });
        for (let i = 0; i < STEPS; i++) iterator.next();
      },
    });
    Deno.bench({
      name: `CronSchedule ${group}`,
      group,
      fn() {
        let at = START;
        for (let i = 0; i < STEPS; i++) at = cron.nextAfterMs(at, zone)!;
      },
    });
  }
}
