/**
 * At-least-once vs at-most-once, printed (run with
 * `deno run -A bench/delivery_figures.ts`):
 *
 * 1. Valkey round trips and server commands per run, with the state store
 *    and the guard on one deployment (two scripts per run: see
 *    docs/valkey.md, "Two round trips per run"), on one server, behind
 *    Sentinel and on a Cluster, each beside the same run through the plain
 *    store and guard calls (measured here) and BullMQ's figures. Commands
 *    sent are counted in the clients (a script counts once), commands
 *    executed by the primary's `INFO commandstats` (a script and every
 *    command inside it); see tests/_valkey_counting.ts.
 * 2. Deno KV commits per run: a replay-all backlog of 200 runs on a
 *    `:memory:` KV with the KV state store and guard, behind a counting
 *    proxy. Aim: at most 1 more commit per run.
 */
import {
  type CreateIfAbsentStateStore,
  type Delivery,
  DenoKvExecutionGuard,
  DenoKvStateStore,
  type JobState,
  type StateStore,
} from "../mod.ts";
import {
  type ValkeyConnection,
  ValkeyExecutionGuard,
  ValkeyStateStore,
} from "../src/valkey/mod.ts";
import { startValkeyServer } from "../tests/_valkey_server.ts";
import {
  hasValkeyTopologies,
  startCluster,
  startSentinelSet,
} from "../tests/_valkey_topology.ts";
import {
  backlog,
  byName,
  FEW,
  MANY,
  runCost,
} from "../tests/_valkey_counting.ts";
import { countingKv, isCommit, isRead, KvCounts } from "./_kv_counting.ts";

const N = 200;
const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };
const DELIVERIES: Delivery[] = ["at-most-once", "at-least-once"];
const fmt = (value: number) => value.toFixed(2);
const verdict = (met: boolean) => (met ? "met" : "NOT MET");

// ---------------------------------------------------------------------------
// 1. Valkey round trips and server commands per run

/** `store` without its leased writes: the plain calls, as before them. */
function plainCalls(store: CreateIfAbsentStateStore): StateStore {
  return {
    load: (jobId) => store.load(jobId),
    save: (state) => store.save(state),
    delete: (jobId) => store.delete(jobId),
    createIfAbsent: (state: JobState) => store.createIfAbsent(state),
  } as CreateIfAbsentStateStore;
}

/** Prints the costs on one topology, with the plain calls beside them. */
async function topologyFigures(
  topology: string,
  connection: ValkeyConnection,
  primaryPort: (jobId: string) => Promise<number>,
): Promise<boolean> {
  const store = await ValkeyStateStore.connect(connection);
  const guard = await ValkeyExecutionGuard.connect(connection, LEASE);
  let met = true;
  try {
    for (const delivery of DELIVERIES) {
      const leased = await runCost({ store, guard, primaryPort }, {
        delivery,
        tag: `${topology}-leased`,
      });
      const plain = await runCost(
        { store: plainCalls(store), guard, primaryPort },
        { delivery, tag: `${topology}-plain` },
      );
      met &&= leased.roundTrips <= 2 && leased.serverCommands <= 10;
      console.log(
        `   ${topology.padEnd(9)}${delivery.padEnd(14)}${
          fmt(leased.roundTrips).padStart(5)
        } round trips, ${
          fmt(leased.serverCommands).padStart(5)
        } server commands per run (plain calls: ${fmt(plain.roundTrips)} and ${
          fmt(plain.serverCommands)
        }; BullMQ: ${BULLMQ.roundTrips} and ${BULLMQ.serverCommands})`,
      );
      console.log(`      executed: ${byName(leased.executedByName)}`);
    }
  } finally {
    await guard.close();
    await store.close();
  }
  return met;
}

/**
 * BullMQ 6.7.0's job scheduler per run, as issue "Valkey Sentinel and
 * Cluster" gives them (`deno task compare` measures BullMQ's commands,
 * bench/compare/valkey.ts); not measured here.
 */
const BULLMQ = { roundTrips: "6.7", serverCommands: "61" };

console.log(
  `1. Valkey per run, store and guard on one deployment (replay-all backlogs, no-op task; per run = (cost of ${MANY} runs - cost of ${FEW}) / ${
    MANY - FEW
  }; aim: ≤ 2 round trips, ≤ 10 server commands: docs/valkey.md)`,
);
let twoTrips = true;
{
  const server = await startValkeyServer();
  try {
    twoTrips &&= await topologyFigures(
      "single",
      server.url,
      () => Promise.resolve(server.port),
    );
  } finally {
    await server.stop();
  }
}
if (await hasValkeyTopologies()) {
  const sentinel = await startSentinelSet();
  try {
    twoTrips &&= await topologyFigures(
      "sentinel",
      { sentinels: sentinel.sentinels, name: sentinel.name },
      async () => (await sentinel.primary()).port,
    );
  } finally {
    await sentinel.stop();
  }
  const cluster = await startCluster();
  try {
    twoTrips &&= await topologyFigures(
      "cluster",
      { cluster: cluster.startup },
      async (jobId) => (await cluster.roles(`{${jobId}}`)).primary.port,
    );
  } finally {
    await cluster.stop();
  }
} else {
  console.log("   Sentinel and Cluster: skipped (no valkey-cli)");
}
console.log(`   two round trips per run: ${verdict(twoTrips)}`);

// ---------------------------------------------------------------------------
// 2. Deno KV commits per run

{
  const raw = await Deno.openKv(":memory:");
  try {
    const counts = new KvCounts();
    const kv = countingKv(raw, counts);
    const store = new DenoKvStateStore(kv);
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    console.log(
      `2. Deno KV operations per run (replay-all backlog of ${N} runs, no-op task, DenoKvStateStore + DenoKvExecutionGuard on :memory:)`,
    );
    const commits: number[] = [];
    for (const delivery of DELIVERIES) {
      await backlog({
        store,
        guard,
        jobId: `warm-${delivery}`,
        delivery,
        n: N,
      });
      counts.reset();
      await backlog({
        store,
        guard,
        jobId: `count-${delivery}`,
        delivery,
        n: N,
      });
      commits.push(counts.total(isCommit) / N);
      console.log(
        `   ${delivery.padEnd(13)} ${
          fmt(counts.total(isCommit) / N)
        } commits/run, ${fmt(counts.total(isRead) / N)} reads/run`,
      );
    }
    const extra = commits[1] - commits[0];
    console.log(
      `   at-least-once: +${fmt(extra)} commits per run, ratio ${
        fmt(commits[1] / commits[0])
      } (aim: ≤ 1 more, ${verdict(extra <= 1)})`,
    );
  } finally {
    raw.close();
  }
}
