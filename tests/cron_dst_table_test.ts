/**
 * The README's daylight-saving table is the test: every row is read from
 * README.md and checked, so the documentation cannot drift from behaviour.
 */
import assert from "node:assert/strict";
import { CronSchedule, type DstPolicy } from "../mod.ts";

interface DstRow {
  zone: string;
  expression: string;
  dst: DstPolicy | undefined;
  after: Date;
  expected: string[];
}

function parseRules(text: string): DstPolicy | undefined {
  if (text === "default") return undefined;
  const policy: Record<string, string> = {};
  for (const part of text.split(",")) {
    const [key, value] = part.split(":").map((piece) => piece.trim());
    policy[key] = value;
  }
  return policy as DstPolicy;
}

async function readDstTable(): Promise<DstRow[]> {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const start = readme.indexOf("<!-- dst-table:start -->");
  const end = readme.indexOf("<!-- dst-table:end -->");
  assert.ok(start >= 0 && end > start, "README.md has the dst-table markers");
  const rows = readme.slice(start, end).split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim()))
    .filter(([zone]) => zone !== "zone" && !/^-+$/.test(zone));
  return rows.map(([zone, expression, rules, after, firesAt]) => ({
    zone,
    expression: expression.replaceAll("`", ""),
    dst: parseRules(rules),
    after: new Date(after),
    expected: firesAt.split(",").map((instant) =>
      new Date(instant.trim()).toISOString()
    ),
  }));
}

const table = await readDstTable();

Deno.test("README DST table has rows for every zone the rules must cover", () => {
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
    assert.ok(zones.has(zone), `README DST table covers ${zone}`);
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
