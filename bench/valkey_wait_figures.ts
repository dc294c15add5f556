/**
 * What the Valkey guard's opt-in `WAIT` durability costs per run: acquire +
 * release of one occurrence, measured without it and with
 * `durability: { replicas: 1 }` on a primary with one replica and on a
 * Cluster of 3 primaries with a replica each (loopback), in the same run,
 * printed as ms per run and the ratio to each topology's floor.
 *
 *   deno run --allow-all bench/valkey_wait_figures.ts
 */
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { freePort } from "../tests/_valkey_server.ts";
import {
  startCluster,
  TopologyNode,
  until,
} from "../tests/_valkey_topology.ts";

const RUNS = 400;
const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };
// A replica keeps the full sync it loads as dump.rdb in its --dir.
const dir = await Deno.makeTempDir({ prefix: "valkey-wait-" });
const BASE = [
  ...["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  ...["--dir", dir],
];

const primaryPort = freePort();
const primary = await TopologyNode.start(primaryPort, [
  ...BASE,
  "--port",
  String(primaryPort),
]);
const replicaPort = freePort();
const replica = await TopologyNode.start(replicaPort, [
  ...BASE,
  "--port",
  String(replicaPort),
  "--replicaof",
  "127.0.0.1",
  String(primaryPort),
]);
try {
  await until(
    "the replica to sync",
    async () =>
      /master_link_status:up/.test(await replica.cli("INFO", "replication")),
  );
  const url = `redis://127.0.0.1:${primaryPort}`;
  const measure = async (
    name: string,
    options: object,
    connection: string | object = url,
  ) => {
    const guard = await ValkeyExecutionGuard.connect(
      connection as never,
      LEASE,
      options,
    );
    try {
      const t0 = Date.UTC(2026, 0, 1);
      for (let i = 0; i < 20; i++) { // warm-up: scripts loaded, JIT
        const a = await guard.acquire({
          jobId: `warm-${name}`,
          scheduledAt: new Date(t0 + i),
        });
        if (a.kind === "acquired") await guard.release(a.lease);
      }
      const started = performance.now();
      for (let i = 0; i < RUNS; i++) {
        const answer = await guard.acquire({
          jobId: name,
          scheduledAt: new Date(t0 + i),
        });
        if (answer.kind !== "acquired") throw new Error(`${name}: contended`);
        await guard.release(answer.lease);
      }
      return (performance.now() - started) / RUNS;
    } finally {
      await guard.close();
    }
  };
  const floor = await measure("plain", {});
  const waited = await measure("wait", {
    durability: { replicas: 1, timeoutMs: 1_000 },
  });
  const cluster = await startCluster();
  let clusterFloor: number, clusterWaited: number;
  try {
    const connection = { cluster: cluster.startup };
    clusterFloor = await measure("cluster-plain", {}, connection);
    clusterWaited = await measure("cluster-wait", {
      durability: { replicas: 1, timeoutMs: 1_000 },
    }, connection);
  } finally {
    await cluster.stop();
  }
  console.log(
    `Valkey guard, acquire + release per run (${RUNS} runs, loopback, 1 replica)`,
  );
  const row = (name: string, ms: number, base: number, note = "") =>
    console.log(
      `  ${name.padEnd(32)} ${ms.toFixed(3)} ms  ${
        (ms / base).toFixed(2)
      }x${note}`,
    );
  row("one primary, without WAIT", floor, floor);
  row(
    "one primary, durability 1",
    waited,
    floor,
    " (one more round trip + the replica's acknowledgement)",
  );
  row("Cluster, without WAIT", clusterFloor, clusterFloor);
  row("Cluster, durability 1", clusterWaited, clusterFloor);
} finally {
  // SIGKILL: a SIGTERMed server would write dump.rdb into the working dir.
  await replica.kill("SIGKILL");
  await primary.kill("SIGKILL");
  await Deno.remove(dir, { recursive: true });
}
