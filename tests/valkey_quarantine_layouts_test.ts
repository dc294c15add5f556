/**
 * Damaged guard data is set aside in both Valkey key layouts
 * (docs/recovery.md, docs/valkey.md): with the `"cluster"` layout the
 * quarantine keys carry the job's hash tag, so the set-aside stays in the
 * job's slot — on a real Cluster a RENAME into another slot would fail —
 * and the next grant goes through. The status view reads those keys back
 * as set aside, in the layout the prefix's marker names.
 *
 * Real servers; ignored without valkey-server (and valkey-cli for the
 * Cluster).
 */
import assert from "node:assert/strict";
import { Cluster } from "iovalkey";
import {
  type ExecutionGuardAcquire,
  ExecutionGuardError,
  type ExecutionLease,
} from "../mod.ts";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { readValkeyStatus } from "../src/status/mod.ts";
import type { ValkeyClient } from "../src/valkey/_client.ts";
import { closeClient, connectClient } from "../src/valkey/_client.ts";
import { openClient } from "../src/valkey/_open_client.ts";
import { ValkeyKeys } from "../src/valkey/_key_layout.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { hasValkeyTopologies, startCluster } from "./_valkey_topology.ts";

const LEASE = { ttlMs: 2_000, renewIntervalMs: 500 };
const PREFIX = "scheduler:valkey:execution-lease:";
const T = Date.UTC(2026, 3, 3, 1, 2, 3);

function acquired(answer: ExecutionGuardAcquire): ExecutionLease {
  assert.ok(answer.kind === "acquired", `expected a grant, got ${answer.kind}`);
  return answer.lease;
}

/** The data error's message and the quarantine key or hash it names. */
async function setAside(promise: Promise<unknown>, key: string) {
  const error = await promise.then(() => undefined, (error) => error);
  assert.ok(error instanceof ExecutionGuardError, `got ${error}`);
  assert.equal(error.kind, "data", error.message);
  assert.ok(error.message.includes(key), `${error.message} names ${key}`);
  const where = /set aside (?:at|in) (\S+?:quarantine:\S+?)(?:,| field|$)/
    .exec(error.message);
  assert.ok(where !== null, `${error.message} names a quarantine key`);
  return where[1];
}

/**
 * A corrupt counter, a wrong-type lease key, a lease key holding a string
 * that is no token (a Rust holder's token and an unrecognised value stay
 * contended, the latter noted), an undecodable and an
 * orphaned in-flight record of `jobId`, each set aside under a quarantine
 * key in the job's slot (`slotOf`), and granted again afterwards.
 */
async function damageAndRecover(
  guard: ValkeyExecutionGuard,
  raw: ValkeyClient,
  jobId: string,
  slotOf: (key: string) => Promise<string>,
): Promise<string[]> {
  const keys = new ValkeyKeys(PREFIX, "cluster", "test");
  const tag = `{${jobId}}`;
  const slot = await slotOf(keys.fence(jobId));
  const moved: string[] = [];
  const check = async (target: string) => {
    assert.ok(target.startsWith(`${PREFIX}${tag}:quarantine:`), target);
    assert.equal(await slotOf(target), slot, "set aside in the job's slot");
    assert.equal(await raw.exists(target), 1, `${target} holds the value`);
    moved.push(target);
  };
  const at = (i: number) => new Date(T + i * 1_000);

  acquired(await guard.acquire({ jobId, scheduledAt: at(0) }));
  await raw.set(keys.fence(jobId), "seven");
  await check(
    await setAside(
      guard.acquire({ jobId, scheduledAt: at(1) }),
      keys.fence(jobId),
    ),
  );
  acquired(await guard.acquire({ jobId, scheduledAt: at(1) }));

  const leaseKey = guard.leaseKey(jobId, at(2));
  assert.equal(leaseKey, keys.lease(jobId, at(2)));
  await raw.hset(leaseKey, "not", "a lease");
  await check(
    await setAside(guard.acquire({ jobId, scheduledAt: at(2) }), leaseKey),
  );
  acquired(await guard.acquire({ jobId, scheduledAt: at(2) }));

  // A string that is no token nor done marker: damaged, set aside too.
  const garbageKey = guard.leaseKey(jobId, at(10));
  await raw.set(garbageKey, "\u0000not-a-token");
  await check(
    await setAside(
      guard.acquire({ jobId, scheduledAt: at(10) }),
      garbageKey,
    ),
  );
  acquired(await guard.acquire({ jobId, scheduledAt: at(10) }));
  // A Rust holder's token is another holder's: contended, nothing noted
  // (with its expiry, as the Rust crate's SET NX PX writes it).
  const rustKey = guard.leaseKey(jobId, at(11));
  await raw.set(rustKey, "lease-1775178123000000000-3", "PX", 60_000);
  assert.deepEqual(await guard.acquire({ jobId, scheduledAt: at(11) }), {
    kind: "contended",
  });
  // A value that only starts like one may be a holder's: contended, noted
  // with the key, and left in place.
  const oddKey = guard.leaseKey(jobId, at(12));
  await raw.set(oddKey, "done:somebody");
  const odd = await guard.acquire({ jobId, scheduledAt: at(12) });
  assert.ok(odd.kind === "contended" && odd.note?.includes(oddKey), odd.kind);
  assert.equal(await raw.get(oddKey), "done:somebody");

  const inFlight = guard.inFlight;
  const good = acquired(
    await inFlight.acquire({
      jobId,
      scheduledAt: at(3),
      triggerCount: 1,
      catchUp: false,
    }),
  );
  await raw.hset(keys.inFlight(jobId), "2026-04-03T01:02:09.000000000Z", "{no");
  await check(await setAside(inFlight.list(jobId), keys.inFlight(jobId)));
  const [record] = await inFlight.list(jobId);
  assert.equal(record.holder, good.token);

  await raw.set(good.leaseKey, "done:another", "PX", 60_000);
  await check(await setAside(inFlight.reclaim(record), "orphaned"));
  assert.deepEqual(await inFlight.list(jobId), []);

  // A damaged string over a record's lease would keep it from ever being
  // reclaimed: set aside, and the reclaim goes through.
  const held = acquired(
    await inFlight.acquire({
      jobId,
      scheduledAt: at(13),
      triggerCount: 2,
      catchUp: false,
    }),
  );
  await raw.set(held.leaseKey, "garbage");
  const [stale] = await inFlight.list(jobId);
  await check(await setAside(inFlight.reclaim(stale), held.leaseKey));
  const [again] = await inFlight.list(jobId);
  acquired(await inFlight.reclaim(again));
  return moved;
}

Deno.test({
  name:
    'Valkey keyLayout "cluster" on one server: damaged data set aside under hash-tagged quarantine keys; the status view lists them as set aside, not the layout marker',
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer(async (server) => {
      const raw = openClient(server.url, "test").client;
      await connectClient(raw);
      const guard = await ValkeyExecutionGuard.connect(server.url, LEASE, {
        keyLayout: "cluster",
      });
      try {
        const moved = await damageAndRecover(
          guard,
          raw,
          "job:a",
          // No CLUSTER KEYSLOT on one server: the hash tag decides the slot.
          (key) => Promise.resolve(/\{([^}]*)\}/.exec(key)?.[1] ?? key),
        );
        const report = await readValkeyStatus(server.url);
        assert.deepEqual(report.jobs.map((job) => job.jobId), ["job:a"]);
        assert.match(report.jobs[0].fencingCounter ?? "", /^\d{16,}$/);
        const damaged = new Map(
          report.damaged.map((entry) => [entry.key, entry.problem]),
        );
        assert.ok(!damaged.has(PREFIX), "the layout marker is no damage");
        for (const key of new Set(moved)) {
          assert.match(damaged.get(key) ?? "", /^set aside/, key);
        }
        assert.equal(damaged.size, new Set(moved).size, [...damaged].join());
      } finally {
        await guard.close();
        await closeClient(raw);
      }
    }),
});

Deno.test({
  name:
    "Valkey Cluster: a damaged counter, lease key and in-flight records are set aside in the job's slot, the next grant goes through",
  ignore: !(await hasValkeyTopologies()),
  fn: async () => {
    const cluster = await startCluster();
    const raw = new Cluster(cluster.startup, { lazyConnect: true });
    try {
      await raw.connect();
      const guard = await ValkeyExecutionGuard.connect(
        { cluster: cluster.startup },
        LEASE,
      );
      try {
        for (const jobId of ["q-1", "q-2", "q-3"]) {
          const moved = await damageAndRecover(
            guard,
            raw,
            jobId,
            async (key) => String(await raw.cluster("KEYSLOT", key)),
          );
          assert.equal(moved.length, 6);
        }
      } finally {
        await guard.close();
      }
    } finally {
      raw.disconnect();
      await cluster.stop();
    }
  },
});

Deno.test("ValkeyKeys.parse reads back every key it builds, in both layouts, job ids with colons included", () => {
  const at = new Date(T);
  for (const layout of ["rust", "cluster"] as const) {
    const keys = new ValkeyKeys(PREFIX, layout, "test");
    for (const jobId of ["a", "job:x", "reports:2026-04-03T01:02:03Z"]) {
      const lease = keys.lease(jobId, at);
      const stamp = lease.slice(lease.length - 30);
      const expected = [
        [keys.fence(jobId), { kind: "fence", jobId }],
        [keys.inFlight(jobId), { kind: "in-flight", jobId }],
        [lease, { kind: "lease", jobId, what: stamp }],
        [
          keys.quarantine(jobId, "fencing-token", 5),
          { kind: "quarantine", jobId, what: "fencing-token", at: 5 },
        ],
        [
          keys.quarantine(jobId, stamp, 7),
          { kind: "quarantine", jobId, what: stamp, at: 7 },
        ],
        [keys.quarantineInFlight(jobId), {
          kind: "quarantine-in-flight",
          jobId,
        }],
        [keys.marker(), { kind: "marker", jobId: "" }],
      ] as const;
      for (const [key, parsed] of expected) {
        assert.deepEqual(keys.parse(key), parsed, `${layout}: ${key}`);
      }
    }
  }
});
