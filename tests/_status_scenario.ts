/**
 * The status command's scenario on any backend: a job whose holder was
 * SIGKILLed mid-run (its in-flight record waiting for replay once the lease
 * expired), a job whose run holds its lease right now, a state that does not
 * decode and a key set aside; the command (JSON and table) lists them all
 * and changes nothing it reads.
 */
import assert from "node:assert/strict";
import { denoRun } from "./_processes.ts";
import type { StatusReport } from "../src/status/mod.ts";

const INSTANCE = new URL(
  "./fixtures/at_least_once_instance.ts",
  import.meta.url,
);
const STATUS = new URL("../src/status/mod.ts", import.meta.url);

/** Which at-least-once instance to start. */
export interface HolderOptions {
  readonly backend: "kv" | "valkey";
  readonly where: string;
  readonly jobId: string;
  /** The one instant it runs, and holds. */
  readonly at: number;
  /** Its lease's `ttlMs,renewIntervalMs` (the instance's default: 600,150). */
  readonly lease?: string;
}

/**
 * Starts an at-least-once instance that holds the run of `at`; one that
 * does not get there within 30 s is killed and reported.
 */
export async function holder(o: HolderOptions): Promise<Deno.ChildProcess> {
  const child = denoRun(INSTANCE, [
    o.backend,
    o.where,
    o.jobId,
    String(o.at),
    String(o.at),
    ...(o.lease === undefined ? [] : [`lease=${o.lease}`]),
  ])
    .spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, 30_000);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!text.includes(`holding ${o.at}`)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${o.jobId} ended before holding: ${text}`);
      text += value;
    }
  } catch (error) {
    await kill(child);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  child.stderr.cancel().catch(() => {});
  return child;
}

export async function kill(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
  await child.status;
}

export async function status(args: readonly string[]) {
  const output = await denoRun(STATUS, [...args]).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** Polls `read` until the dead holder's record waits for replay (≤ 10 s). */
async function untilReplayPending(
  read: () => Promise<StatusReport>,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const report = await read();
    const dead = report.jobs.find((job) => job.jobId === "dead-job");
    if (dead?.inFlight[0]?.phase === "waiting-for-replay") return;
    if (Date.now() > deadline) {
      throw new Error(`no replay pending: ${JSON.stringify(report)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface Scenario {
  readonly backend: "kv" | "valkey";
  /** The instances' connection: a path, a URL or a JSON connection. */
  readonly where: string;
  /** The command's arguments naming the deployment. */
  readonly args: readonly string[];
  read(): Promise<StatusReport>;
  /** Writes a state that does not decode and a key set aside. */
  damage(): Promise<void>;
  /** Everything stored, to compare before and after the command. */
  snapshot(): Promise<string>;
}

export async function scenario(s: Scenario): Promise<void> {
  const at = Date.now() + 1_000;
  const { backend, where } = s;
  // The dead holder's lease (600 ms) expires soon after the kill, so its
  // record waits for replay; the live one's outlasts the SIGSTOP below on a
  // busy machine, so that the command reads the same keys as both
  // snapshots.
  const dead = await holder({ backend, where, jobId: "dead-job", at });
  await kill(dead);
  const live = await holder({
    backend,
    where,
    jobId: "live-job",
    at,
    lease: "30000,500",
  });
  try {
    await s.damage();
    await untilReplayPending(() => s.read());
    // The live holder renews its lease on its own schedule: frozen, it
    // cannot change what is stored while the command reads it.
    live.kill("SIGSTOP");
    let json, table;
    try {
      const before = await s.snapshot();
      json = await status([...s.args, "--json"]);
      assert.equal(json.code, 0, json.stderr);
      table = await status([...s.args]);
      assert.equal(table.code, 0, table.stderr);
      assert.equal(await s.snapshot(), before, "the command changed nothing");
    } finally {
      live.kill("SIGCONT");
    }

    const report = JSON.parse(json.stdout);
    const jobs = Object.fromEntries(
      // deno-lint-ignore no-explicit-any
      report.jobs.map((job: any) => [job.jobId, job]),
    );
    assert.deepEqual(Object.keys(jobs), ["dead-job", "live-job"]);
    for (const id of ["dead-job", "live-job"]) {
      const job = jobs[id];
      assert.equal(job.state.triggerCount, 1, `${id} trigger count`);
      assert.equal(job.state.lastRunAt, null, `${id} never finished a run`);
      assert.equal(job.inFlight.length, 1);
      assert.equal(job.inFlight[0].scheduledAt, new Date(at).toISOString());
      assert.equal(job.inFlight[0].triggerCount, 1);
      assert.equal(job.inFlight[0].fencingToken, job.fencingCounter);
    }
    // The dead holder's lease expired: Valkey dropped the key, Deno KV may
    // still hold the record with its deadline in the past.
    for (const lease of jobs["dead-job"].leases) {
      assert.ok(Date.parse(lease.deadline) <= Date.now(), lease.deadline);
    }
    assert.equal(jobs["live-job"].leases.length, 1);
    assert.equal(
      jobs["live-job"].inFlight[0].holder,
      jobs["live-job"].leases[0].holder,
    );
    assert.equal(jobs["dead-job"].inFlight[0].phase, "waiting-for-replay");
    const held = jobs["live-job"].leases[0];
    assert.equal(held.status, "held");
    assert.ok(Date.parse(held.deadline) > Date.now() - 5_000, held.deadline);
    assert.equal(jobs["live-job"].inFlight[0].phase, "running");
    assert.equal(report.damaged.length, 2, JSON.stringify(report.damaged));
    assert.match(
      report.damaged.map((d: { key: string }) => d.key).join(" "),
      /broken/,
    );
    assert.match(
      report.damaged.map((d: { key: string }) => d.key).join(" "),
      /quarantine/,
    );

    assert.match(
      table.stdout,
      /^live-job\s+1\s+-\s+-\s+\S+\s+-\s+held \S+\s+\S+\s+\S+/m,
    );
    assert.match(
      table.stdout,
      /dead-job\s+\S+\s+1\s+\d+\s+\S+\s+waiting-for-replay/,
    );
    assert.match(table.stdout, /live-job\s+\S+\s+1\s+\d+\s+\S+\s+running/);
  } finally {
    await kill(live);
  }
}
