/**
 * Random strings given to CronSchedule.parse either parse or throw
 * InvalidJobError kind "cron-expression" — nothing else, and never a hang.
 */
import assert from "node:assert/strict";
import { CronSchedule, InvalidJobError } from "../mod.ts";
import { Random, testSeed } from "./_random.ts";

const ALPHABET = [
  ..."0123456789",
  ..."0123456789",
  "*",
  "*",
  "/",
  "-",
  ",",
  " ",
  " ",
  " ",
  "\t",
  "@",
  "?",
  "L",
  "W",
  "#",
  "H",
  ..."JANFEBMARMONSUNSATdecfri",
  "x",
  ".",
  "+",
  "\u00a0",
  "\n",
];
const VALID = [
  "* * * * *",
  "*/15 9-17 * * MON-FRI",
  "0 0 1 1 *",
  "30 2 * * *",
  "0 0 13 * FRI",
  "@hourly",
  "5-59/20 1,2,3 */2 JAN-JUN 0,7",
  "5/15 * * * *",
  "0 2/6 1/10 FEB/3 MON/2",
];

const FIELD_MAX = [59, 23, 31, 12, 7];

/**
 * The same expression with every `a/s` written out as `a-max/s`, or undefined
 * when it has no such item or is not five plain fields.
 */
function withSingleValueStepsExpanded(text: string): string | undefined {
  const fields = text.trim().split(/[ \t]+/);
  if (fields.length !== 5) return undefined;
  let changed = false;
  const expanded = fields.map((field, index) =>
    field.split(",").map((item) => {
      const match = /^([0-9A-Za-z]+)\/(.*)$/.exec(item);
      if (match === null) return item;
      changed = true;
      return `${match[1]}-${FIELD_MAX[index]}/${match[2]}`;
    }).join(",")
  );
  return changed ? expanded.join(" ") : undefined;
}

function randomText(random: Random): string {
  if (random.chance(0.5)) {
    // Mutate a valid expression: insert, delete or replace characters.
    const chars = [...random.pick(VALID)];
    const edits = random.int(1, 4);
    for (let i = 0; i < edits; i++) {
      const at = random.int(0, chars.length);
      const kind = random.int(0, 2);
      if (kind === 0) chars.splice(at, 0, random.pick(ALPHABET));
      else if (kind === 1) chars.splice(at, 1);
      else chars[at] = random.pick(ALPHABET);
    }
    return chars.join("");
  }
  const length = random.int(0, 40);
  let text = "";
  for (let i = 0; i < length; i++) text += random.pick(ALPHABET);
  return text;
}

Deno.test("fuzz: 10 000 random strings parse or throw InvalidJobError cron-expression", () => {
  const random = new Random(testSeed(20261129));
  let parsed = 0;
  let rejected = 0;
  let singleValueSteps = 0;
  const after = new Date("2026-11-29T00:00:00Z");
  for (let i = 0; i < 10_000; i++) {
    const text = randomText(random);
    let cron: CronSchedule;
    try {
      cron = CronSchedule.parse(text);
    } catch (error) {
      assert.ok(
        error instanceof InvalidJobError,
        `seed ${random.seed} case ${i} ${JSON.stringify(text)}: ${error}`,
      );
      assert.equal(error.kind, "cron-expression");
      assert.ok(error.message.includes(text.length > 0 ? `\`${text}\`` : "``"));
      rejected++;
      continue;
    }
    parsed++;
    // Whatever parses must also evaluate, in bounded time, to a later instant.
    const next = cron.nextAfter(after, "America/New_York");
    assert.ok(next === undefined || next > after, JSON.stringify(text));
    // `a/s` must mean exactly `a-max/s` (a `SUN-7` range is fine: SUN is 0).
    const expanded = withSingleValueStepsExpanded(text);
    if (expanded !== undefined) {
      singleValueSteps++;
      const twin = CronSchedule.parse(expanded);
      let cursor: Date | undefined = after;
      for (let n = 0; n < 3 && cursor !== undefined; n++) {
        const mine: Date | undefined = cron.nextAfter(cursor, "UTC");
        assert.equal(
          mine?.getTime(),
          twin.nextAfter(cursor, "UTC")?.getTime(),
          `${JSON.stringify(text)} = ${JSON.stringify(expanded)}`,
        );
        cursor = mine;
      }
    }
  }
  assert.ok(parsed > 100, `some mutations stay valid (${parsed})`);
  assert.ok(
    singleValueSteps > 50,
    `some parsed strings use a/s (${singleValueSteps})`,
  );
  assert.ok(rejected > 5000, `most random strings are rejected (${rejected})`);
});
