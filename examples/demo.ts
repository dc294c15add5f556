/**
 * Placeholder demo: prints the next five occurrences of a cron expression in
 * a time zone. Usage: deno task demo [expression] [zone]
 */
import { CronSchedule } from "../mod.ts";

const [expression = "30 2 * * *", zone = "America/New_York"] = Deno.args;
const cron = CronSchedule.parse(expression);
let at = new Date();
console.log(`next five occurrences of \`${cron}\` in ${zone}:`);
for (let i = 0; i < 5; i++) {
  const next = cron.nextAfter(at, zone);
  if (next === undefined) break;
  const local = next.toLocaleString("sv-SE", {
    timeZone: zone,
    timeZoneName: "short",
  });
  console.log(`  ${next.toISOString()}  (${local})`);
  at = next;
}
