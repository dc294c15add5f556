/**
 * Daylight-saving behaviour: every row of the DST table in docs/cron.md (the cron(8)
 * rules, checked against ours by tests/cron_dst_table_test.ts) run through
 * each library; a cell shows ✓ when the library fires at exactly the
 * documented instants, else the instants it fires at.
 */
import { type DstRow, readDstTable } from "../../tests/_dst_table.ts";
import { installFakeClock } from "../../tests/_fake_time.ts";
import { type CronWalker, cronWalkers } from "./_cron_walkers.ts";
import { describeError, type Section, table } from "./_report.ts";

/** The instants `walker` fires at after the row's `after`, ISO strings. */
function fires(walker: CronWalker, row: DstRow): string[] {
  // A library that only counts from now gets a fake `Date` set to `after`.
  const clock = walker.fromNow ? installFakeClock(row.after) : undefined;
  try {
    return walker.walk({
      expression: row.expression,
      zone: row.zone,
      after: row.after,
      count: row.expected.length,
      dst: row.dst,
    }).map((instant) => new Date(instant).toISOString());
  } finally {
    clock?.uninstall();
  }
}

/** `2026-03-08T07:00Z` */
function short(iso: string): string {
  return iso.replace(/:00\.000Z$/, "Z");
}

/** Runs the measurement and returns its section of RESULTS.md. */
export async function measureDst(): Promise<Section> {
  const rows = await readDstTable();
  const all = cronWalkers();
  const agree = new Map(all.map((c) => [c.name, 0]));
  let defaultRows = 0;
  const lines = rows.map((row) => {
    const rules = row.dst
      ? Object.entries(row.dst).map(([k, v]) => `${k}: ${v}`).join(", ")
      : "default";
    if (!row.dst) defaultRows++;
    const cells = all.map((contender) => {
      if (row.dst && !contender.policies) return "no such option";
      try {
        const fired = fires(contender, row);
        if (fired.join() === row.expected.join()) {
          if (!row.dst) {
            agree.set(contender.name, agree.get(contender.name)! + 1);
          }
          return "✓";
        }
        return `✗ ${fired.map(short).join(", ")}`;
      } catch (error) {
        return `error: ${describeError(error)}`;
      }
    });
    return [
      row.zone,
      `\`${row.expression}\``,
      rules,
      short(row.after.toISOString()),
      row.expected.map(short).join(", "),
      ...cells,
    ];
  });
  const summary = all.map((contender) => [
    contender.name,
    `${agree.get(contender.name)} / ${defaultRows}`,
  ]);
  return {
    title: "Daylight saving: the cron(8) table of docs/cron.md",
    body: [
      "Each row of the DST table in docs/cron.md (section \"Daylight-saving rules\"): after the instant in `after`, the first occurrences each library computes, against the instants cron(8)'s rules give (`expected`). ✓ means exactly those instants; ✗ lists what the library computes instead. Rows with explicit rules use ours' `DstPolicy`, which the peers have no equivalent of. node-cron only computes from the current time, so it runs under a fake `Date` set to `after`.",
      "",
      "Rows with the default (cron(8)) rules that each library gets exactly right:",
      "",
      table(["library", "rows agreeing with cron(8)"], summary),
      "",
      table(
        [
          "zone",
          "expression",
          "rules",
          "after",
          "expected (cron(8))",
          ...all.map((c) => c.name),
        ],
        lines,
      ),
    ].join("\n"),
  };
}
