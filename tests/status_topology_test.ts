/**
 * The status view on a real Cluster (3 primaries, a replica each) and behind
 * real Sentinels: a job whose holder was SIGKILLed mid-run (a replay
 * pending), a job whose run holds its lease, with the jobs' keys on
 * different primaries, a damaged state and a key set aside; the command
 * (`--cluster`, `--sentinel … --name`) lists them all and writes nothing;
 * `readValkeyStatus` leaves a client the user built open; a connection lost
 * mid-read fails the read rather than calling the unread keys damaged. And
 * the command's Valkey flags: bad values named with exit code 2, passwords
 * only from the environment (a real server requiring one refuses the command
 * without `VALKEY_PASSWORD` and serves it with).
 */
import assert from "node:assert/strict";
import { scenario, status } from "./_status_scenario.ts";
import {
  hasValkeyTopologies,
  startCluster,
  startSentinelSet,
} from "./_valkey_topology.ts";
import { readValkeyStatus } from "../src/status/mod.ts";
import { closeClient, connectClient } from "../src/valkey/_client.ts";
import { openClient, type ValkeyClient } from "../src/valkey/_open_client.ts";
import { valkeyConnection } from "../src/status/_cli_valkey.ts";
import { readValkeyEntries } from "../src/status/_valkey_reader.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const topologies = await hasValkeyTopologies();

/** Every key of `nodes` with its DUMP, to compare before and after. */
async function snapshot(nodes: readonly ValkeyClient[]): Promise<string> {
  const all: [string, string | undefined][] = [];
  for (const node of nodes) {
    for (const key of await node.keys("*")) {
      all.push([key, (await node.dumpBuffer(key))?.toString("hex")]);
    }
  }
  return JSON.stringify(all.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

Deno.test({
  name:
    "status on a Cluster: jobs on different primaries, a held lease, a replay pending, damage; read-only; a user's client stays open",
  ignore: !topologies,
  fn: async () => {
    const cluster = await startCluster();
    const client = openClient({ cluster: cluster.startup }, "test").client;
    try {
      await connectClient(client);
      // The two jobs' hash tags fall in different primaries' slots, so the
      // command must scan more than one node to find them.
      const dead = await cluster.roles("{dead-job}");
      const live = await cluster.roles("{live-job}");
      const aside = await cluster.roles("{set-aside}");
      assert.equal(
        new Set([dead.primary, live.primary, aside.primary]).size,
        3,
        "the keys spread over all three primaries",
      );
      const startup = cluster.startup.map((n) => `${n.host}:${n.port}`);
      let reads = 0;
      await scenario({
        backend: "valkey",
        where: JSON.stringify({ cluster: cluster.startup }),
        args: ["--cluster", startup.join(",")],
        read: async () => {
          const report = await readValkeyStatus({ client });
          reads++;
          return report;
        },
        damage: async () => {
          await client.set("scheduler:valkey:job-state:{broken}", "{not json");
          await client.set(
            "scheduler:valkey:execution-lease:{set-aside}:quarantine:fencing-token:1700000000000",
            "7",
          );
        },
        snapshot: () =>
          snapshot(
            (client as { nodes(role: "master"): ValkeyClient[] }).nodes(
              "master",
            ),
          ),
      });
      assert.ok(reads > 0);
      assert.equal(client.status, "ready", "the user's client is left open");
    } finally {
      await closeClient(client);
      await cluster.stop();
    }
  },
});

Deno.test({
  name:
    "status behind Sentinel: the primary's held lease, replay pending and damage; read-only",
  ignore: !topologies,
  fn: async () => {
    const set = await startSentinelSet();
    const connection = { sentinels: set.sentinels, name: set.name };
    const client = openClient(connection, "test").client;
    try {
      await connectClient(client);
      // The command is given the Sentinels only, never a data node: what it
      // reads it found through them.
      await scenario({
        backend: "valkey",
        where: JSON.stringify(connection),
        args: [
          "--sentinel",
          set.sentinels.map((s) => `${s.host}:${s.port}`).join(","),
          "--name",
          set.name,
        ],
        read: () => readValkeyStatus(connection),
        damage: async () => {
          await client.set("scheduler:valkey:job-state:broken", "{not json");
          await client.set(
            "scheduler:valkey:execution-lease:quarantine:x",
            "1",
          );
        },
        snapshot: () => snapshot([client]),
      });
    } finally {
      await closeClient(client);
      await set.stop();
    }
  },
});

Deno.test({
  name:
    "status view: a connection lost mid-read fails the read, no key is called damaged for it",
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer(async (server) => {
      const client = openClient(server.url, "test").client;
      await connectClient(client);
      try {
        await client.set("scheduler:valkey:job-state:a", "{not json");
        // The state key's GET goes to a real client whose connection has
        // ended (iovalkey's own failure); every other call succeeds, so
        // only that key is in question.
        const ended = openClient(server.url, "test").client;
        await connectClient(ended);
        await closeClient(ended);
        const lossy = new Proxy(client, {
          get(target, name) {
            if (name === "get") {
              return (key: string) =>
                key === "scheduler:valkey:job-state:a"
                  ? ended.get(key)
                  : target.get(key);
            }
            const value = Reflect.get(target, name);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
        await assert.rejects(
          readValkeyEntries({ client: lossy, topology: "single" }),
          /Stream isn't writeable|Connection is closed/,
        );
        // The same key, read on a live connection: damaged, as it is.
        const fresh = await readValkeyStatus(server.url);
        assert.deepEqual(fresh.damaged.map((d) => d.key), [
          "scheduler:valkey:job-state:a",
        ]);
      } finally {
        await closeClient(client);
      }
    }),
});

Deno.test("status command: bad Valkey flags are named and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--cluster", "127.0.0.1:99999"], /--cluster .*"127\.0\.0\.1:99999"/],
    [["--cluster", "127.0.0.1:7000,nohost"], /--cluster .*"nohost"/],
    [["--sentinel", "127.0.0.1:26379"], /--sentinel needs --name NAME/],
    [
      ["--sentinel", "127.0.0.1:26379", "--name", "m", "--db", "x"],
      /--db takes a database index .*"x"/,
    ],
    [["--cluster", "127.0.0.1:7000", "--name", "m"], /--name does not apply/],
    [["--valkey", "redis://h", "--username", "u"], /--username does not/],
    [["--kv", "a", "--cluster", "127.0.0.1:7000"], /exactly one of --kv/],
    [["--kv", "a", "--tls"], /--tls does not apply to --kv/],
    [["--cluster", "127.0.0.1:1", "--password", "s"], /set VALKEY_PASSWORD/],
  ];
  for (const [args, message] of cases) {
    const result = await status(args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

Deno.test({
  name:
    "status command: a server's password from VALKEY_PASSWORD, never on the command line",
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer(async (server) => {
      const admin = openClient(server.url, "test").client;
      await connectClient(admin);
      try {
        await admin.set("scheduler:valkey:job-state:broken", "{not json");
        await admin.config("SET", "requirepass", "pw-from-env");
        const url = server.url;
        const run = async (env: Record<string, string>) => {
          const output = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              new URL("../src/status/mod.ts", import.meta.url).pathname,
              "--valkey",
              url,
              "--json",
            ],
            env,
            stdout: "piped",
            stderr: "piped",
          }).output();
          const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
          return {
            ...output,
            out: text(output.stdout),
            err: text(output.stderr),
          };
        };
        const refused = await run({ VALKEY_PASSWORD: "" });
        assert.equal(refused.code, 1, refused.err);
        assert.match(refused.err, /NOAUTH|Authentication required/);
        const read = await run({ VALKEY_PASSWORD: "pw-from-env" });
        assert.equal(read.code, 0, read.err);
        assert.deepEqual(
          JSON.parse(read.out).damaged.map((d: { key: string }) => d.key),
          ["scheduler:valkey:job-state:broken"],
        );
      } finally {
        await closeClient(admin);
      }
    }),
});

Deno.test("status command: passwords come from the environment, into every kind of connection", () => {
  const env = (values: Record<string, string>) => (name: string) =>
    values[name];
  assert.equal(
    valkeyConnection(
      { valkey: "valkey://app@127.0.0.1:6379/2" },
      env({ VALKEY_PASSWORD: "s3cr:t" }),
    ),
    "redis://app:s3cr%3At@127.0.0.1:6379/2",
  );
  assert.throws(
    () =>
      valkeyConnection(
        { valkey: "redis://:a@127.0.0.1:6379" },
        env({ VALKEY_PASSWORD: "b" }),
      ),
    /the URL has a password and VALKEY_PASSWORD is set/,
  );
  assert.deepEqual(
    valkeyConnection(
      { sentinel: "127.0.0.1:26379,[::1]:26380", name: "m", db: "3" },
      env({ VALKEY_PASSWORD: "p", VALKEY_SENTINEL_PASSWORD: "q" }),
    ),
    {
      sentinels: [
        { host: "127.0.0.1", port: 26379 },
        { host: "::1", port: 26380 },
      ],
      name: "m",
      password: "p",
      sentinelPassword: "q",
      db: 3,
    },
  );
  assert.deepEqual(
    valkeyConnection(
      { cluster: "127.0.0.1:7000", username: "u", tls: true },
      env({ VALKEY_PASSWORD: "p" }),
    ),
    {
      cluster: [{ host: "127.0.0.1", port: 7000 }],
      username: "u",
      password: "p",
      tls: true,
    },
  );
});
