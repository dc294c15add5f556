/**
 * Failovers while jobs run: three `deno run` scheduler processes share one
 * at-least-once job of 60 occurrences on a real Sentinel set or Cluster,
 * and the topology changes under them (a graceful Sentinel failover; a
 * lossy one: replication cut, primary SIGKILLed, replica promoted; the
 * job's slot primary of a Cluster SIGKILLed; the job's slot migrated to
 * another primary). Each shows: no fencing token issued twice, every
 * occurrence run or reported (acquire failed, skipped), a later run of an
 * occurrence with a higher token, and — with `durability` — no occurrence
 * run twice except as a `replayed` run (docs/valkey.md, "What is
 * guaranteed in each topology"). The lossy failover and the migration also
 * run with the store and guard on one deployment, each run then two
 * leased scripts (docs/valkey.md, "Two round trips per run").
 *
 * Real processes and real time (about 15 s each, 40 s with durability,
 * which waits for the leases of unconfirmed grants to run out); ignored without
 * valkey-server and valkey-cli.
 */
import assert from "node:assert/strict";
import { collect, type Collected } from "./_child_output.ts";
import { denoCommand } from "./_processes.ts";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import {
  cli,
  hasValkeyTopologies,
  startCluster,
  startSentinelSet,
  type TestCluster,
  until,
} from "./_valkey_topology.ts";

const available = await hasValkeyTopologies();
const INSTANCE = new URL("./fixtures/topology_instance.ts", import.meta.url);
const OCCURRENCES = 60;
const SPACING_MS = 120;

interface Ran {
  at: number;
  token: bigint;
  replayed: boolean;
  /** When the task started (epoch ms, one machine's clock). */
  startedAt: number;
}

/**
 * What a scenario asserts beyond "no token issued twice, every occurrence
 * run or reported, a later run of an occurrence has a higher token":
 * `replays-only` (an occurrence runs again only as a `replayed` run: what
 * `durability` with a lease outlasting the outage guarantees) or `fenced`
 * (nothing more: without `durability` a grant, or a done marker, can be
 * lost in a failover, and a lease can run out during a long outage).
 */
type Duplicates = "replays-only" | "fenced";

interface ScenarioOptions {
  readonly duplicates: Duplicates;
  /** The instances' lease and guard options (see the fixture). */
  readonly instance?: object;
  readonly occurrences?: number;
  /** The share of occurrences that must have run. */
  readonly minRan?: number;
}

/** Runs 3 instances; `disrupt` starts when the first occurrence is due. */
async function scenario(
  connection: unknown,
  jobId: string,
  disrupt: (startAt: number) => Promise<bigint[] | void>,
  options: ScenarioOptions,
): Promise<void> {
  const occurrences = options.occurrences ?? OCCURRENCES;
  const startAt = Date.now() + 4_000; // deno startup under load
  const instants = Array.from(
    { length: occurrences },
    (_, i) => startAt + i * SPACING_MS,
  );
  const children = [0, 1, 2].map(() =>
    denoCommand(INSTANCE, {
      args: [
        JSON.stringify(connection),
        jobId,
        instants.join(","),
        JSON.stringify(options.instance ?? {}),
      ],
    }).spawn()
  );
  // A hung instance fails the test instead of holding CI.
  const watchdog = setTimeout(() => {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }, 90_000);
  const finished = children.map(collect);
  let outputs: Collected[];
  // Tokens granted by the disruption itself (a fresh instance's).
  let extra: bigint[] = [];
  try {
    // The topology changes only once every instance has connected (under
    // load a process may start late; it then catches up on its backlog).
    await Promise.all(finished.map((instance) => instance.ready));
    extra = (await disrupt(startAt)) ?? [];
    outputs = await Promise.all(finished.map((instance) => instance.done));
  } finally {
    clearTimeout(watchdog);
  }
  const ran: Ran[] = [];
  const reported = new Set<number>();
  for (const output of outputs) {
    const { stdout, stderr } = output;
    assert.equal(output.code, 0, `an instance failed:\n${stdout}\n${stderr}`);
    assert.match(stdout, /^done /m, stdout);
    for (const line of stdout.split("\n")) {
      const [word, at, third, fourth, fifth] = line.split(" ");
      if (word === "ran") {
        ran.push({
          at: Number(at),
          token: BigInt(third),
          replayed: fourth === "true",
          startedAt: Number(fifth),
        });
      } else if (word === "failed") {
        reported.add(Number(at));
      } else if (word === "skipped") {
        const from = instants.indexOf(Number(at));
        for (let i = 0; i < Number(third); i++) {
          reported.add(instants[Math.max(0, from - i)]);
          reported.add(instants[from + i]);
        }
      }
    }
  }
  const tokens = [...ran.map((run) => run.token), ...extra];
  assert.equal(
    new Set(tokens).size,
    tokens.length,
    `a fencing token was issued twice: ${tokens.join(", ")}`,
  );
  const byInstant = new Map<number, Ran[]>();
  for (const run of ran) {
    byInstant.set(run.at, [...(byInstant.get(run.at) ?? []), run]);
  }
  for (const at of instants) {
    const runs = (byInstant.get(at) ?? []).sort((a, b) =>
      a.startedAt - b.startedAt
    );
    assert.ok(
      runs.length > 0 || reported.has(at),
      `occurrence ${at} neither ran nor was reported`,
    );
    const shown = JSON.stringify(
      runs,
      (_, v) => typeof v === "bigint" ? String(v) : v,
    );
    for (let i = 1; i < runs.length; i++) {
      assert.ok(
        runs[i].token > runs[i - 1].token,
        `occurrence ${at} ran again with a lower token: ${shown}`,
      );
      if (options.duplicates === "replays-only") {
        assert.ok(
          runs[i].replayed,
          `occurrence ${at} ran twice without being a replay: ${shown}`,
        );
      }
    }
  }
  const ranCount = instants.filter((at) => byInstant.has(at)).length;
  const replayed = ran.filter((run) => run.replayed).length;
  console.log(
    `${jobId}: ${ranCount} of ${occurrences} ran, ${ran.length} runs (${replayed} replayed), ${reported.size} reported`,
  );
  assert.ok(
    ranCount >= occurrences * (options.minRan ?? 0.8),
    `only ${ranCount} of ${occurrences} occurrences ran`,
  );
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function untilOccurrence(startAt: number, index: number) {
  await pause(Math.max(0, startAt + index * SPACING_MS - Date.now()));
}

Deno.test({
  name:
    "Valkey failover, Sentinel: a graceful failover while 3 processes run a job",
  ignore: !available,
  fn: async () => {
    const set = await startSentinelSet();
    try {
      const connection = { sentinels: set.sentinels, name: set.name };
      await scenario(connection, "graceful", async (startAt) => {
        await untilOccurrence(startAt, 15);
        const before = await set.primary();
        await cli(set.sentinels[0].port, "SENTINEL", "FAILOVER", set.name);
        await until(
          "the failover",
          async () => (await set.primary()) !== before,
        );
      }, { duplicates: "fenced" });
    } finally {
      await set.stop();
    }
  },
});

for (const twoTrips of [false, true]) {
  Deno.test({
    name:
      `Valkey failover, Sentinel: a lossy failover (replication cut, primary killed, replica promoted) issues no token twice${
        twoTrips
          ? ", store and guard on one deployment (two round trips per run)"
          : ""
      }`,
    ignore: !available,
    fn: async () => {
      const set = await startSentinelSet();
      try {
        const connection = { sentinels: set.sentinels, name: set.name };
        await scenario(connection, "lossy", async (startAt) => {
          await untilOccurrence(startAt, 10);
          const [primary, replica] = set.data;
          // The replica can no longer authenticate to its primary: grants
          // from now on reach the primary only.
          await replica.cli("CONFIG", "SET", "masteruser", "nobody");
          await replica.cli("CONFIG", "SET", "masterauth", "nothing");
          await replica.cli("CLIENT", "KILL", "TYPE", "master");
          await pause(8 * SPACING_MS);
          await primary.kill("SIGKILL");
          await until(
            "the replica's promotion",
            async () => (await set.primary()) === replica,
          );
          // A fresh instance (it has seen no token, so no floor helps it)
          // takes a grant on the promoted replica, whose counter lost the
          // grants made during the cut.
          const fresh = await ValkeyExecutionGuard.connect(connection, {
            ttlMs: 2_000,
            renewIntervalMs: 400,
          }, { retryBudgetMs: 15_000 });
          try {
            const answer = await fresh.acquire({
              jobId: "lossy",
              scheduledAt: new Date(0),
            });
            assert.equal(answer.kind, "acquired");
            return answer.kind === "acquired"
              ? [answer.lease.fencingToken!]
              : [];
          } finally {
            await fresh.close();
          }
        }, { duplicates: "fenced", instance: { twoTrips } });
      } finally {
        await set.stop();
      }
    },
  });
}

async function withCluster(body: (cluster: TestCluster) => Promise<void>) {
  const cluster = await startCluster();
  try {
    await body(cluster);
  } finally {
    await cluster.stop();
  }
}

Deno.test({
  name:
    "Valkey failover, Cluster: the primary of the job's slot is killed while 3 processes run the job; without durability a run may be repeated, with a higher token",
  ignore: !available,
  fn: () =>
    withCluster(async (cluster) => {
      const jobId = "slot-failover";
      const { primary, replica } = await cluster.roles(`{${jobId}}`);
      await scenario({ cluster: cluster.startup }, jobId, async (startAt) => {
        await untilOccurrence(startAt, 15);
        await primary.kill("SIGKILL");
        await until(
          "the replica's promotion",
          async () =>
            /role:master/.test(await replica.cli("INFO", "replication")),
        );
      }, { duplicates: "fenced" });
    }),
});

Deno.test({
  name:
    "Valkey failover, Cluster: the primary of the job's slot is killed while 3 processes run the job with durability; an occurrence runs again only as a replay",
  ignore: !available,
  fn: () =>
    withCluster(async (cluster) => {
      const jobId = "slot-failover-durable";
      const { primary, replica } = await cluster.roles(`{${jobId}}`);
      await scenario({ cluster: cluster.startup }, jobId, async (startAt) => {
        await untilOccurrence(startAt, 15);
        await primary.kill("SIGKILL");
        await until(
          "the replica's promotion",
          async () =>
            /role:master/.test(await replica.cli("INFO", "replication")),
        );
        // Until a replica is back, no grant on the slot can be confirmed
        // (each is reported as an acquire failure): the killed node
        // rejoins as the new primary's replica.
        const rejoined = await cluster.restart(primary);
        await until(
          "the old primary to rejoin as a replica",
          async () =>
            /master_link_status:up/.test(
              await rejoined.cli("INFO", "replication"),
            ),
        );
      }, {
        duplicates: "replays-only",
        // The lease outlives the failover and every grant's retries, so an
        // instance that asks after the promotion finds the grant. A grant
        // no replica confirmed rejects run(), which is started again.
        instance: {
          lease: { ttlMs: 10_000, renewIntervalMs: 1_000 },
          guard: {
            durability: { replicas: 1, timeoutMs: 1_000 },
            retryBudgetMs: 8_000,
          },
          restart: true,
        },
        occurrences: 100,
        minRan: 0.4,
      });
    }),
});

for (const twoTrips of [false, true]) {
  Deno.test({
    name:
      `Valkey failover, Cluster: the job's slot migrates to another primary while 3 processes run the job${
        twoTrips
          ? ", store and guard on one deployment (two round trips per run)"
          : ""
      }`,
    ignore: !available,
    fn: () =>
      withCluster(async (cluster) => {
        const jobId = "slot-migration";
        const { primary: source } = await cluster.roles(`{${jobId}}`);
        const slot = await source.cli("CLUSTER", "KEYSLOT", `{${jobId}}`);
        const nodes = await source.cli("CLUSTER", "NODES");
        const primaries = nodes.split("\n").filter((line) =>
          line.includes("master")
        ).map((line) => {
          const [id, address] = line.split(" ");
          return { id, port: Number(address.split(":")[1].split("@")[0]) };
        });
        const from = primaries.find((node) => node.port === source.port)!;
        const to = primaries.find((node) => node.port !== source.port)!;
        await scenario({ cluster: cluster.startup }, jobId, async (startAt) => {
          await untilOccurrence(startAt, 15);
          await cli(to.port, "CLUSTER", "SETSLOT", slot, "IMPORTING", from.id);
          await cli(from.port, "CLUSTER", "SETSLOT", slot, "MIGRATING", to.id);
          // Keys move one at a time while the instances keep writing.
          for (let round = 0; round < 50; round++) {
            const keys = (await cli(
              from.port,
              "CLUSTER",
              "GETKEYSINSLOT",
              slot,
              "1",
            )).split("\n").filter((key) => key !== "");
            if (keys.length === 0) break;
            await cli(
              from.port,
              "MIGRATE",
              "127.0.0.1",
              String(to.port),
              keys[0],
              "0",
              "5000",
            );
            await pause(SPACING_MS / 2);
          }
          for (const node of primaries) {
            await cli(node.port, "CLUSTER", "SETSLOT", slot, "NODE", to.id);
          }
        }, { duplicates: "fenced", instance: { twoTrips } });
        const { primary: after } = await cluster.roles(`{${jobId}}`);
        assert.equal(after.port, to.port, "the slot moved");
      }),
  });
}
