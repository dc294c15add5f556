/**
 * Every cron and daylight-saving test runs again on the time-zone path of
 * runtimes without `Temporal` (Node 20–24): a `deno test` process with
 * `Temporal` hidden before any module loads (tests/_without_temporal.ts), so
 * that the rules shared by `CronSchedule` find the zones' changes by `Intl`
 * probes. The files run unchanged.
 */
import assert from "node:assert/strict";

const FILES = [
  "tests/cron_dialect_test.ts",
  "tests/cron_dst_table_test.ts",
  "tests/cron_fuzz_test.ts",
  "tests/cron_property_test.ts",
  "tests/cron_sparse_test.ts",
  "tests/cron_utc_default_test.ts",
  "tests/occurrences_test.ts",
  "tests/schedule_test.ts",
];

Deno.test("cron and daylight-saving tests pass without Temporal", async () => {
  const root = new URL("../", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--allow-all",
      "--config",
      new URL("deno.json", root).pathname,
      "--preload",
      new URL("tests/_without_temporal.ts", root).pathname,
      ...FILES.map((file) => new URL(file, root).pathname),
    ],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `${stdout}\n${stderr}`);
  const summary = /ok \| (\d+) passed \| 0 failed/.exec(stdout);
  assert.ok(summary !== null, stdout);
  // The preloaded check ran, and so did every file's tests.
  assert.match(
    stdout,
    /without Temporal: the shared zone rules come from Intl probes \.\.\. ok/,
  );
  for (const file of FILES) {
    assert.ok(stdout.includes(`from ./${file}`), `${file} did not run`);
  }
});
