/**
 * Every file in examples/ runs here with small counts, so an example that no
 * longer works fails CI. Real time: a few hundred milliseconds each.
 */
import assert from "node:assert/strict";
import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "../mod.ts";
import { runExample } from "./_run_example.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const EXAMPLES = new URL("../examples/", import.meta.url);

/** The examples this file runs; a new example must be added here. */
const COVERED = ["demo.ts", "report_worker.ts", "valkey_instances.ts"];

Deno.test("examples: every file in examples/ has a smoke run below", () => {
  const files = [...Deno.readDirSync(EXAMPLES)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".ts"))
    .map((entry) => entry.name)
    .sort();
  assert.deepEqual(files, [...COVERED].sort());
});

Deno.test("examples: demo.ts runs two short runs on the in-memory store", async () => {
  const result = await runExample("demo.ts", {
    permissions: ["--allow-read", "--allow-write"],
    args: [
      "--store",
      "memory",
      "--interval",
      "20",
      "--runs",
      "2",
      "--tz",
      "UTC",
    ],
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal([...result.stdout.matchAll(/^run #\d+ /gm)].length, 2);
});

Deno.test("examples: report_worker.ts runs as a Task.fromWorker module", async () => {
  const job = new Job(
    "report",
    Schedule.interval(10),
    { rows: 1_000 },
    Task.fromWorker<{ rows: number }>(new URL("report_worker.ts", EXAMPLES)),
  ).withMaxRuns(1);
  const report = await new Scheduler(
    {},
    new InMemoryStateStore(),
  )
    .run(job);
  assert.deepEqual(
    report.history.map((run) => [run.status, run.error]),
    [["success", null]],
  );
});

Deno.test({
  name: "examples: valkey_instances.ts runs each occurrence on one instance",
  ignore: !(await hasValkeyServer()),
  async fn() {
    await withValkeyServer(async (server) => {
      const result = await runExample("valkey_instances.ts", {
        permissions: ["--allow-net", "--allow-env"],
        args: ["--url", server.url, "--runs", "4", "--interval", "50"],
      });
      assert.equal(result.code, 0, result.stderr);
      const tokens = [...result.stdout.matchAll(/fencing token (\d+)$/gm)]
        .map((match) => Number(match[1]));
      assert.ok(tokens.length >= 4, result.stdout);
      assert.ok(
        tokens.every((token, i) => i === 0 || token > tokens[i - 1]),
        `fencing tokens only grow: ${tokens}`,
      );
      assert.match(result.stdout, /^\d+ occurrences, 0 ran twice$/m);
    });
  },
});
