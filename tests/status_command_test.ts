/**
 * The status command lists what a deployment stores, on Deno KV and on a real
 * valkey-server: a job whose holder was SIGKILLed mid-run (its in-flight
 * record waiting for replay once the lease expired), a job whose run holds
 * its lease right now (holder and deadline), a state that does not decode
 * and a key set aside; and it changes nothing it reads.
 */
import assert from "node:assert/strict";
import { scenario, status } from "./_status_scenario.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { readDenoKvStatus, readValkeyStatus } from "../src/status/mod.ts";
import { closeClient, connectClient } from "../src/valkey/_client.ts";
import { openClient } from "../src/valkey/_open_client.ts";

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
      args: ["--kv", where],
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
          args: ["--valkey", server.url],
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
    assert.match(both.stderr, /exactly one of --kv PATH, --valkey URL/);
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
