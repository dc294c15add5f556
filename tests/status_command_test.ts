/**
 * The status command lists what a deployment stores, on Deno KV and on a real
 * valkey-server: a job whose holder was SIGKILLed mid-run (its in-flight
 * record waiting for replay once the lease expired), a job whose run holds
 * its lease right now (holder and deadline), a state that does not decode
 * and a key set aside; and it changes nothing it reads.
 */
import assert from "node:assert/strict";
import { denoRun } from "./_processes.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import {
  readDenoKvStatus,
  readValkeyStatus,
  type StatusReport,
} from "../src/status/mod.ts";
import { closeClient, connectClient } from "../src/valkey/_client.ts";
import { openClient } from "../src/valkey/_open_client.ts";

const INSTANCE = new URL(
  "./fixtures/at_least_once_instance.ts",
  import.meta.url,
);
const STATUS = new URL("../src/status/mod.ts", import.meta.url);

/** Starts an at-least-once instance that holds the run of `at`. */
async function holder(
  backend: "kv" | "valkey",
  where: string,
  jobId: string,
  at: number,
): Promise<Deno.ChildProcess> {
  const child = denoRun(INSTANCE, [
    backend,
    where,
    jobId,
    String(at),
    String(at),
  ])
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes(`holding ${at}`)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${jobId} ended before holding: ${text}`);
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  child.stderr.cancel().catch(() => {});
  return child;
}

async function kill(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
  await child.status;
}

async function status(args: string[]) {
  const output = await denoRun(STATUS, args).output();
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

interface Scenario {
  readonly backend: "kv" | "valkey";
  readonly where: string;
  readonly flag: string;
  read(): Promise<StatusReport>;
  /** Writes a state that does not decode and a key set aside. */
  damage(): Promise<void>;
  /** Everything stored, to compare before and after the command. */
  snapshot(): Promise<string>;
}

async function scenario(s: Scenario): Promise<void> {
  const at = Date.now() + 1_000;
  const dead = await holder(s.backend, s.where, "dead-job", at);
  await kill(dead);
  const live = await holder(s.backend, s.where, "live-job", at);
  try {
    await s.damage();
    await untilReplayPending(() => s.read());
    // The live holder renews its lease on its own schedule: frozen, it
    // cannot change what is stored while the command reads it.
    live.kill("SIGSTOP");
    let json, table;
    try {
      const before = await s.snapshot();
      json = await status([s.flag, s.where, "--json"]);
      assert.equal(json.code, 0, json.stderr);
      table = await status([s.flag, s.where]);
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

Deno.test("status command on Deno KV: a held lease, a replay pending, a damaged state and a key set aside; read-only", async () => {
  const dir = await Deno.makeTempDir();
  const where = `${dir}/jobs.kv`;
  const withKv = async <T>(body: (kv: Deno.Kv) => Promise<T>) => {
    const kv = await Deno.openKv(where);
    try {
      return await body(kv);
    } finally {
      kv.close();
    }
  };
  try {
    await scenario({
      backend: "kv",
      where,
      flag: "--kv",
      read: () => withKv((kv) => readDenoKvStatus(kv)),
      damage: () =>
        withKv(async (kv) => {
          await kv.set(["scheduler", "job-state", "broken"], "{not json");
          await kv.set(["scheduler", "execution-lease", "quarantine", "x"], 1);
        }),
      snapshot: () =>
        withKv(async (kv) => {
          const all = [];
          for await (const entry of kv.list({ prefix: [] })) {
            all.push([entry.key, entry.versionstamp]);
          }
          return Deno.inspect(all);
        }),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "status command on Valkey: a held lease, a replay pending, a damaged state and a key set aside; read-only",
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer(async (server) => {
      const client = openClient(server.url, "test").client;
      await connectClient(client);
      try {
        await scenario({
          backend: "valkey",
          where: server.url,
          flag: "--valkey",
          read: () => readValkeyStatus(server.url),
          damage: async () => {
            await client.set("scheduler:valkey:job-state:broken", "{not json");
            await client.set(
              "scheduler:valkey:execution-lease:quarantine:x",
              "1",
            );
          },
          snapshot: async () => {
            const keys = (await client.keys("*")).sort();
            const values = [];
            for (const key of keys) {
              values.push([
                key,
                (await client.dumpBuffer(key))?.toString("hex"),
              ]);
            }
            return JSON.stringify(values);
          },
        });
      } finally {
        await closeClient(client);
      }
    }),
});

Deno.test("status command: a bad command line names the value and exits 2; a missing Deno KV file is reported, not created", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const unknown = await status(["--kv", `${dir}/x.kv`, "--jsn"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown argument "--jsn"/);
    const both = await status(["--kv", "a", "--valkey", "redis://x"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of --kv PATH and --valkey URL/);
    const missing = await status(["--kv", `${dir}/missing.kv`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no Deno KV database at ".*missing\.kv"/);
    await assert.rejects(Deno.stat(`${dir}/missing.kv`), Deno.errors.NotFound);
    const kv = await Deno.openKv(`${dir}/empty.kv`);
    kv.close();
    const prefix = await status([
      "--kv",
      `${dir}/empty.kv`,
      "--state-prefix",
      "not-json",
    ]);
    assert.equal(prefix.code, 2);
    assert.match(prefix.stderr, /JSON array of key parts, got "not-json"/);
    const empty = await status(["--kv", `${dir}/empty.kv`]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /deno-kv at \S+: 0 job\(s\)\n\(none\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
