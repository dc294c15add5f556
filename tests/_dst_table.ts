/**
 * Reads the daylight-saving table between the `dst-table` markers of
 * docs/cron.md: the documented cron(8) behaviour that the test suite checks and
 * `bench/compare` holds other libraries against.
 */
import type { DstPolicy } from "../mod.ts";

/** One row of the DST table in docs/cron.md. */
export interface DstRow {
  zone: string;
  expression: string;
  /** The `rules` column; `undefined` for `default`. */
  dst: DstPolicy | undefined;
  after: Date;
  /** The instants the expression fires at after `after`, ISO strings. */
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

/** The table's rows, in the guide's order. */
export async function readDstTable(): Promise<DstRow[]> {
  const readme = await Deno.readTextFile(
    new URL("../docs/cron.md", import.meta.url),
  );
  const start = readme.indexOf("<!-- dst-table:start -->");
  const end = readme.indexOf("<!-- dst-table:end -->");
  if (start < 0 || end <= start) {
    throw new Error("docs/cron.md lacks the dst-table:start/end markers");
  }
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
