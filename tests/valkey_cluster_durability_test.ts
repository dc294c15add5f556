/**
 * `durability` (WAIT) on a real Cluster of 3 primaries with a replica each:
 * the guard computes the slots the servers compute, sends a grant (plain
 * or in-flight) to the primary of the job's slot and WAITs on that same
 * connection, so a grant counts once that shard's replica has it; with the
 * replica stopped (SIGSTOP) the grant fails with kind `connection` and its
 * lease stays, while a job on another shard is still granted.
 *
 * Real processes and real time (a few seconds); ignored without
 * valkey-server and valkey-cli.
 */
import assert from "node:assert/strict";
import type { ExecutionGuardAcquire } from "../mod.ts";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { keySlot } from "../src/valkey/_key_slot.ts";
import { assertGuardError } from "./_assert_errors.ts";
import {
  hasValkeyTopologies,
  startCluster,
  type TestCluster,
  type TopologyNode,
  until,
} from "./_valkey_topology.ts";

const available = await hasValkeyTopologies();
const LEASE = { ttlMs: 10_000, renewIntervalMs: 1_000 };

function acquired(answer: ExecutionGuardAcquire) {
  assert.equal(answer.kind, "acquired");
  return answer.kind === "acquired" ? answer.lease : assert.fail();
}

/** Job ids whose slots lie on `count` different primaries. */
async function jobsOnShards(cluster: TestCluster, count: number) {
  const found: {
    jobId: string;
    primary: TopologyNode;
    replica: TopologyNode;
  }[] = [];
  for (let i = 0; found.length < count && i < 200; i++) {
    const jobId = `durable-${i}`;
    const roles = await cluster.roles(`{${jobId}}`);
    if (found.every((job) => job.primary !== roles.primary)) {
      found.push({ jobId, ...roles });
    }
  }
  assert.equal(found.length, count, "jobs on distinct shards");
  return found;
}

Deno.test({
  name:
    "Valkey Cluster durability: grants wait for the replica of the job's slot primary, and fail (lease kept) when that replica is stopped",
  ignore: !available,
  fn: async () => {
    const cluster = await startCluster();
    const stopped: number[] = [];
    const guard = await ValkeyExecutionGuard.connect(
      { cluster: cluster.startup },
      LEASE,
      { durability: { replicas: 1, timeoutMs: 300 }, retryBudgetMs: 5_000 },
    );
    try {
      const node = cluster.nodes[0];
      for (
        const key of [
          "foo",
          "123456789",
          "a{}b{c}",
          "{é}x",
          guard.leaseKey("durable-0", new Date(0)),
          guard.leaseKey("ünïcode job", new Date(0)),
        ]
      ) {
        assert.equal(
          keySlot(key),
          Number(await node.cli("CLUSTER", "KEYSLOT", key)),
          `the slot of ${key}`,
        );
      }
      const [a, b] = await jobsOnShards(cluster, 2);
      const at = (day: number) => new Date(Date.UTC(2026, 2, day));
      // A WAIT that reached the slot's primary returns 1: each shard has
      // one replica.
      acquired(await guard.acquire({ jobId: a.jobId, scheduledAt: at(1) }));
      acquired(await guard.acquire({ jobId: b.jobId, scheduledAt: at(1) }));
      acquired(
        await guard.inFlight.acquire({
          jobId: a.jobId,
          scheduledAt: at(2),
          triggerCount: 2,
          catchUp: false,
        }),
      );
      // The replica of a's shard stops acknowledging.
      Deno.kill(a.replica.pid, "SIGSTOP");
      stopped.push(a.replica.pid);
      const started = Date.now();
      await assertGuardError(
        guard.acquire({ jobId: a.jobId, scheduledAt: at(3) }),
        "connection",
        "0 of 1 replica(s) acknowledged",
      );
      assert.ok(Date.now() - started >= 250, "it waited for the replica");
      await assertGuardError(
        guard.inFlight.acquire({
          jobId: a.jobId,
          scheduledAt: at(4),
          triggerCount: 4,
          catchUp: false,
        }),
        "connection",
        "0 of 1 replica(s) acknowledged",
      );
      // Another shard's replica is untouched: its WAIT, sent to its own
      // primary, still returns 1.
      acquired(await guard.acquire({ jobId: b.jobId, scheduledAt: at(3) }));
      // The failed grant's lease is on a's primary, left to expire.
      const lease = await a.primary.cli("GET", guard.leaseKey(a.jobId, at(3)));
      assert.notEqual(lease, "", "the lease of the failed grant stays");
      Deno.kill(a.replica.pid, "SIGCONT");
      stopped.pop();
      await until(
        "the replica to catch up",
        async () =>
          /master_link_status:up/.test(
            await a.replica.cli("INFO", "replication"),
          ),
      );
      assert.equal(
        (await guard.acquire({ jobId: a.jobId, scheduledAt: at(3) })).kind,
        "contended",
        "the occurrence is never granted twice",
      );
      await until("a's grants to be acknowledged again", async () => {
        const answer = await guard.acquire({
          jobId: a.jobId,
          scheduledAt: new Date(Date.now()),
        });
        return answer.kind === "acquired";
      });
    } finally {
      for (const pid of stopped) Deno.kill(pid, "SIGCONT");
      await guard.close();
      await cluster.stop();
    }
  },
});
