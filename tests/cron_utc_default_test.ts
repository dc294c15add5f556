/**
 * `CronSchedule.nextAfter(date)` without a zone evaluates in UTC, like the
 * scheduler (not in the machine's `TZ`), and a non-Date is an
 * `InvalidJobError`, not a `TypeError`.
 */
import assert from "node:assert/strict";
import { CronSchedule, InvalidJobError } from "../mod.ts";

Deno.test("nextAfter without a zone is UTC", () => {
  const cron = CronSchedule.parse("0 9 * * *");
  const from = new Date("2026-04-03T10:00:00Z");
  assert.equal(cron.nextAfter(from)?.toISOString(), "2026-04-04T09:00:00.000Z");
  assert.equal(
    cron.nextAfterMs(from.getTime()),
    Date.parse("2026-04-04T09:00:00Z"),
  );
});

Deno.test("nextAfter without a zone ignores the process's TZ", async () => {
  // A child process with a far-off TZ: the answer must still be 09:00 UTC.
  const code = `
    import { CronSchedule } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
    const next = CronSchedule.parse("0 9 * * *").nextAfter(new Date("2026-04-03T10:00:00Z"));
    console.log(next.toISOString(), new Date(0).getTimezoneOffset());`;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    // The repository's config: mod.ts imports @opentelemetry/api by name.
    args: [
      "eval",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      code,
    ],
    env: { TZ: "Asia/Tokyo" },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(success);
  const [next, offset] = new TextDecoder().decode(stdout).trim().split(" ");
  assert.equal(offset, "-540", "the child really runs in Tokyo time");
  assert.equal(next, "2026-04-04T09:00:00.000Z");
});

Deno.test("nextAfter with a non-Date is an InvalidJobError naming the value", () => {
  const cron = CronSchedule.parse("* * * * *");
  for (const bad of [Date.now(), "2026-04-03T10:00:00Z", null, undefined, {}]) {
    assert.throws(
      () => cron.nextAfter(bad as unknown as Date),
      (error: unknown) =>
        error instanceof InvalidJobError && error.kind === "other" &&
        /nextAfter needs a Date/.test(error.message),
      String(bad),
    );
  }
  assert.throws(() => cron.nextAfter(new Date("nope")), InvalidJobError);
});
