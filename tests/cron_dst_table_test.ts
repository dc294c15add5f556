/**
 * The daylight-saving table of docs/cron.md is the test: every row is read
 * from the guide and checked, so the documentation cannot drift from behaviour.
 */
import assert from "node:assert/strict";
import { CronSchedule } from "../mod.ts";
import { readDstTable } from "./_dst_table.ts";

const table = await readDstTable();

Deno.test("the DST table has rows for every zone the rules must cover", () => {
  const zones = new Set(table.map((row) => row.zone));
  for (
    const zone of [
      "America/New_York",
      "America/Santiago",
      "America/Sao_Paulo",
      "Africa/Cairo",
      "Australia/Lord_Howe",
      "Asia/Kolkata",
    ]
  ) {
    assert.ok(zones.has(zone), `the DST table covers ${zone}`);
  }
  const policies = new Set(table.map((row) => JSON.stringify(row.dst ?? {})));
  for (
    const policy of [
      {},
      { gap: "skip" },
      { gap: "shift" },
      { overlap: "both" },
      { overlap: "first" },
    ]
  ) {
    assert.ok(
      policies.has(JSON.stringify(policy)),
      `covers ${JSON.stringify(policy)}`,
    );
  }
});

for (const row of table) {
  const rules = row.dst ? JSON.stringify(row.dst) : "default rules";
  Deno.test(`DST ${row.zone} \`${row.expression}\` ${rules} after ${row.after.toISOString()}`, () => {
    const cron = CronSchedule.parse(row.expression);
    const actual: string[] = [];
    let cursor = row.after;
    for (const _ of row.expected) {
      const next = cron.nextAfter(cursor, row.zone, row.dst);
      assert.ok(next, `an occurrence after ${cursor.toISOString()}`);
      actual.push(next.toISOString());
      cursor = next;
    }
    assert.deepEqual(actual, row.expected);
  });
}
