/**
 * A quick-start program whose job fails does not die of an unhandled
 * rejection: the failure is an event and one `console.error` line naming
 * the job, while `done` still rejects for whoever awaits it.
 */
import assert from "node:assert/strict";
import { schedule, StoreError } from "../mod.ts";
import { runScript } from "./_processes.ts";

const DATA = new URL("../.data/", import.meta.url);
const MOD = new URL("../mod.ts", import.meta.url).href;

/** A store that is closed: every call fails with kind `connection`. */
const CLOSED_STORE = `{
  load: () => Promise.reject(new StoreError("the store is closed", { kind: "connection" })),
  save: () => Promise.reject(new StoreError("the store is closed", { kind: "connection" })),
  delete: () => Promise.resolve(),
}`;

async function runProgram(source: string) {
  await Deno.mkdir(DATA, { recursive: true });
  const file = new URL(`quick_path_${crypto.randomUUID()}.ts`, DATA);
  await Deno.writeTextFile(file, source);
  try {
    return await runScript(file, { args: [], permissions: [] });
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("schedule(): a failing job whose done is never read logs one line naming it and the process ends normally", async () => {
  const result = await runProgram(`
import { schedule, StoreError } from "${MOD}";
const job = schedule({ everyMs: 10 }, { jobId: "broken", store: ${CLOSED_STORE} }, () => {});
job.scheduler.addEventListener("scheduler-stopped", (event) => {
  console.log("event:", event.detail.reason);
});
`);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /event: failed/);
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /job "broken" stopped: .*the store is closed/);
  assert.doesNotMatch(result.stderr, /Uncaught|unhandled/i);
});

Deno.test("JobGroup: a failing job logs one line naming it, stops the group, and the process ends normally", async () => {
  const result = await runProgram(`
import { JobGroup, StoreError } from "${MOD}";
const jobs = new JobGroup({ store: ${CLOSED_STORE} });
jobs.schedule({ everyMs: 10 }, { jobId: "broken" }, () => {});
jobs.schedule({ everyMs: 60_000 }, { jobId: "other" }, () => {});
`);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /job "(broken|other)" of a JobGroup stopped/);
});

Deno.test("schedule(): done still rejects for those who await it, and nothing is logged then", async () => {
  const errors: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void errors.push(args);
  try {
    const job = schedule({ everyMs: 10 }, {
      jobId: "awaited",
      store: {
        load: () =>
          Promise.reject(new StoreError("closed", { kind: "connection" })),
        save: () => Promise.resolve(),
        delete: () => Promise.resolve(),
      },
    }, () => {});
    await assert.rejects(job.done, StoreError);
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    console.error = original;
  }
  assert.deepEqual(errors, []);
});
