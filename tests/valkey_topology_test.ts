/**
 * The Valkey store, guard and in-flight ledger through the public API on a
 * real Cluster (3 primaries with replicas) and behind real Sentinels: every
 * call of every job works whichever slot the job hashes to, a job's keys
 * share one slot, WAIT durability holds a grant until a replica has it
 * (and fails the grant when too few do), and a Sentinel failover in the middle is an outage the
 * retry budget rides out (tokens keep increasing).
 *
 * Real processes and real time; ignored without valkey-server/valkey-cli.
 */
import assert from "node:assert/strict";
import { Cluster } from "iovalkey";
import type { JobState } from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { assertGuardError } from "./_assert_errors.ts";
import {
  hasValkeyTopologies,
  startCluster,
  startSentinelSet,
  until,
} from "./_valkey_topology.ts";

const available = await hasValkeyTopologies();
const LEASE = { ttlMs: 300, renewIntervalMs: 100 };

function state(jobId: string, triggerCount: number): JobState {
  return {
    jobId,
    triggerCount,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: null,
    lastError: null,
  };
}

function granted(answer: { kind: string; lease?: unknown }) {
  assert.equal(answer.kind, "acquired");
  return (answer as { lease: import("../mod.ts").ExecutionLease }).lease;
}

async function exercise(
  store: ValkeyStateStore,
  guard: ValkeyExecutionGuard,
  jobs: readonly string[],
): Promise<void> {
  for (const jobId of jobs) {
    assert.equal(await store.createIfAbsent(state(jobId, 1)), undefined);
    await store.save(state(jobId, 2));
    assert.equal((await store.load(jobId))?.triggerCount, 2);
    const at = new Date(Date.UTC(2026, 0, 1, 0, 0, jobs.indexOf(jobId)));
    const lease = granted(await guard.acquire({ jobId, scheduledAt: at }));
    assert.equal(await guard.renew(lease), "renewed");
    await guard.release(lease);
    assert.equal(
      (await guard.acquire({ jobId, scheduledAt: at })).kind,
      "contended",
    );
    // At-least-once: a record, left to expire, then reclaimed and completed.
    const next = new Date(at.getTime() + 60_000);
    const slot = { jobId, scheduledAt: next, triggerCount: 3, catchUp: false };
    const first = granted(await guard.inFlight!.acquire(slot));
    await guard.inFlight!.abandon(first);
    const [record] = await guard.inFlight!.list(jobId);
    assert.equal(record.fencingToken, first.fencingToken);
    assert.equal(record.remainingMs, 0);
    const second = granted(await guard.inFlight!.reclaim(record));
    assert.ok(second.fencingToken! > first.fencingToken!);
    await guard.inFlight!.complete(second);
    assert.deepEqual(await guard.inFlight!.list(jobId), []);
    await store.delete(jobId);
    assert.equal(await store.load(jobId), undefined);
  }
}

Deno.test({
  name:
    "Valkey Cluster: store, guard and in-flight ledger work for jobs in every slot, through { cluster } and a user's Cluster client",
  ignore: !available,
  fn: async () => {
    const cluster = await startCluster();
    try {
      const jobs = Array.from({ length: 12 }, (_, i) => `job-${i}`);
      // Spread over the three primaries: the test means nothing otherwise.
      const primaries = new Set<number>();
      for (const job of jobs) {
        primaries.add((await cluster.roles(`{${job}}`)).primary.port);
      }
      assert.equal(primaries.size, 3);
      // One startup node is enough: the client follows MOVED to the rest.
      const connection = { cluster: cluster.startup.slice(0, 1) };
      const store = await ValkeyStateStore.connect(connection);
      const guard = await ValkeyExecutionGuard.connect(connection, LEASE);
      assert.equal(store.keyLayout, "cluster");
      assert.equal(store.stateKey("a"), "scheduler:valkey:job-state:{a}");
      try {
        await exercise(store, guard, jobs);
      } finally {
        await store.close();
        await guard.close();
      }
      const client = new Cluster(cluster.startup, { lazyConnect: true });
      try {
        const userStore = await ValkeyStateStore.connect({ client });
        const userGuard = await ValkeyExecutionGuard.connect({ client }, LEASE);
        await exercise(
          userStore,
          userGuard,
          jobs.slice(0, 3).map((job) => `user-${job}`),
        );
        await userStore.close();
        await userGuard.close();
        assert.equal(client.status, "ready", "the user's client stays open");
      } finally {
        client.disconnect();
      }
    } finally {
      await cluster.stop();
    }
  },
});

/**
 * WAIT: a grant one replica acknowledged counts; one that asks for more
 * replicas than there are fails with kind `connection` after the wait, and
 * its lease stays (the occurrence is never granted twice).
 */
async function durability(connection: object): Promise<void> {
  // A lease that outlasts the waits even on a loaded machine: the check is
  // that the failed grant's lease is still there, not how long it lasts.
  const lease = { ttlMs: 30_000, renewIntervalMs: 10_000 };
  const one = await ValkeyExecutionGuard.connect(connection as never, lease, {
    durability: { replicas: 1, timeoutMs: 2_000 },
  });
  const two = await ValkeyExecutionGuard.connect(connection as never, lease, {
    durability: { replicas: 2, timeoutMs: 200 },
  });
  try {
    const scheduledAt = new Date(Date.UTC(2026, 2, 1));
    granted(await one.acquire({ jobId: "durable", scheduledAt }));
    const other = {
      jobId: "durable",
      scheduledAt: new Date(Date.UTC(2026, 2, 2)),
    };
    const started = Date.now();
    await assertGuardError(two.acquire(other), "connection", "1 of 2 replica");
    assert.ok(Date.now() - started >= 150, "it waited for the replicas");
    assert.equal((await one.acquire(other)).kind, "contended");
  } finally {
    await one.close();
    await two.close();
  }
}

Deno.test({
  name:
    "Valkey Sentinel: store and guard find the primary, honour WAIT durability, and ride out a failover within the retry budget",
  ignore: !available,
  fn: async () => {
    const set = await startSentinelSet();
    try {
      const connection = { sentinels: set.sentinels, name: set.name };
      const store = await ValkeyStateStore.connect(connection);
      const guard = await ValkeyExecutionGuard.connect(connection, LEASE);
      try {
        await exercise(store, guard, ["a", "b"]);
        await durability(connection);
        const before = await set.primary();
        const tokens: bigint[] = [];
        const at = (i: number) => new Date(Date.UTC(2026, 1, 1, 0, 0, i));
        tokens.push(
          granted(await guard.acquire({ jobId: "f", scheduledAt: at(0) }))
            .fencingToken!,
        );
        await set.data[0].cli(
          "-p",
          String(set.sentinels[0].port),
          "SENTINEL",
          "FAILOVER",
          set.name,
        ).catch(() => {});
        await until(
          "the Sentinels to name the new primary",
          async () => (await set.primary()) !== before,
        );
        for (let i = 1; i <= 5; i++) {
          tokens.push(
            granted(await guard.acquire({ jobId: "f", scheduledAt: at(i) }))
              .fencingToken!,
          );
          await store.save(state("f", i));
        }
        for (let i = 1; i < tokens.length; i++) {
          assert.ok(tokens[i] > tokens[i - 1], tokens.join(", "));
        }
        assert.equal((await store.load("f"))?.triggerCount, 5);
      } finally {
        await store.close();
        await guard.close();
      }
    } finally {
      await set.stop();
    }
  },
});
