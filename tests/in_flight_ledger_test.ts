/**
 * The in-flight ledgers of the Deno KV and Valkey guards: the record is
 * written with the grant and cleared on completion, a live record cannot be
 * reclaimed, an expired one is reclaimed once (never by two reclaimers) with
 * a higher fencing token, and the dead holder's late completion leaves the
 * new holder's record alone. KV runs on a fake clock (its deadlines are
 * client time); Valkey's leases expire on the server's clock, so its tests
 * sleep briefly in real time.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  type ExecutionGuardAcquire,
  ExecutionGuardError,
  type ExecutionLease,
  type InFlightLedger,
  type InFlightSlot,
} from "../mod.ts";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { closeClient, connectClient } from "../src/valkey/_client.ts";
import { openClient } from "../src/valkey/_open_client.ts";
import { withFakeClock } from "./_fake_time.ts";
import { T0 } from "./_engine_helpers.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const TTL = 250;
const LEASE = { ttlMs: TTL, renewIntervalMs: 100 };

interface Backend {
  readonly ledger: InFlightLedger;
  /** Lets more than a lease's ttl pass. */
  expire(): Promise<void>;
}

function acquired(answer: ExecutionGuardAcquire): ExecutionLease {
  assert.equal(answer.kind, "acquired", "expected a grant");
  assert.ok(answer.kind === "acquired");
  return answer.lease;
}

function slot(at: number, triggerCount = 1): InFlightSlot {
  return {
    jobId: "job",
    scheduledAt: new Date(at),
    triggerCount,
    catchUp: triggerCount > 1,
  };
}

async function withKv(body: (backend: Backend) => Promise<void>) {
  await withFakeClock(T0, async (clock) => {
    const kv = await Deno.openKv(":memory:");
    try {
      const guard = new DenoKvExecutionGuard(kv, LEASE);
      await body({
        ledger: guard.inFlight,
        expire: async () => void await clock.tickAsync(TTL + 1),
      });
    } finally {
      kv.close();
    }
  });
}

const valkeyAvailable = await hasValkeyServer();

async function withValkey(
  body: (backend: Backend, url: string) => Promise<void>,
) {
  await withValkeyServer(async (server) => {
    const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
    try {
      await body({
        ledger: guard.inFlight,
        expire: () => new Promise((resolve) => setTimeout(resolve, TTL + 50)),
      }, server.url);
    } finally {
      await guard.close();
    }
  });
}

const scenarios: [string, (backend: Backend) => Promise<void>][] = [
  [
    "the record is written with the grant and cleared on completion",
    async ({ ledger }) => {
      const lease = acquired(await ledger.acquire(slot(T0, 4)));
      assert.equal((await ledger.acquire(slot(T0, 4))).kind, "contended");
      const [record, ...others] = await ledger.list("job");
      assert.deepEqual(others, []);
      assert.equal(record.jobId, "job");
      assert.deepEqual(record.scheduledAt, new Date(T0));
      assert.equal(record.triggerCount, 4);
      assert.equal(record.catchUp, true);
      assert.equal(record.holder, lease.token);
      assert.equal(record.fencingToken, lease.fencingToken);
      assert.ok(record.remainingMs > 0 && record.remainingMs <= TTL);
      assert.ok(record.leaseDeadline instanceof Date);
      await ledger.complete(lease);
      assert.deepEqual(await ledger.list("job"), []);
      assert.equal(
        (await ledger.acquire(slot(T0, 4))).kind,
        "contended",
        "a completed occurrence stays done",
      );
    },
  ],
  [
    "a live record is not reclaimable; an expired one is, once, with a higher fencing token",
    async ({ ledger, expire }) => {
      const dead = acquired(await ledger.acquire(slot(T0)));
      const [live] = await ledger.list("job");
      assert.equal((await ledger.reclaim(live)).kind, "contended");
      await expire();
      const [expired] = await ledger.list("job");
      assert.equal(expired.remainingMs, 0);
      const [first, second] = await Promise.all([
        ledger.reclaim(expired),
        ledger.reclaim(expired),
      ]);
      const winners = [first, second].filter((a) => a.kind === "acquired");
      assert.equal(winners.length, 1, "one reclaimer wins");
      const lease = acquired(winners[0]);
      assert.ok(lease.fencingToken! > dead.fencingToken!);
      const [now] = await ledger.list("job");
      assert.equal(now.holder, lease.token);
      assert.equal(now.triggerCount, 1, "the occurrence's own ordinal is kept");
      assert.equal(now.fencingToken, lease.fencingToken);
      // The dead holder's late completion leaves the new holder's record.
      await ledger.complete(dead);
      assert.equal((await ledger.list("job"))[0]?.holder, lease.token);
      await ledger.complete(lease);
      assert.deepEqual(await ledger.list("job"), []);
    },
  ],
  [
    "a record completed by its holder after its lease ran out is not reclaimed",
    async ({ ledger, expire }) => {
      const slow = acquired(await ledger.acquire(slot(T0)));
      await expire();
      const [expired] = await ledger.list("job");
      await ledger.complete(slow);
      assert.equal((await ledger.reclaim(expired)).kind, "contended");
      assert.deepEqual(await ledger.list("job"), []);
    },
  ],
  [
    "an abandoned run (cancelled, or its lease lost) keeps its record and is reclaimable at once; only its holder can abandon it",
    async ({ ledger }) => {
      const lease = acquired(await ledger.acquire(slot(T0, 2)));
      await ledger.abandon({ ...lease, token: "someone-else" });
      assert.ok((await ledger.list("job"))[0].remainingMs > 0, "still held");
      await ledger.abandon(lease);
      const [record] = await ledger.list("job");
      assert.equal(record.holder, lease.token);
      assert.equal(record.remainingMs, 0);
      const again = acquired(await ledger.reclaim(record));
      assert.ok(again.fencingToken! > lease.fencingToken!);
    },
  ],
  ["records are listed oldest first, per job", async ({ ledger }) => {
    await ledger.acquire(slot(T0 + 2000, 3));
    await ledger.acquire(slot(T0 + 1000, 2));
    await ledger.acquire({ ...slot(T0, 1), jobId: "other" });
    assert.deepEqual(
      (await ledger.list("job")).map((r) => r.scheduledAt.getTime()),
      [T0 + 1000, T0 + 2000],
    );
  }],
];

for (const [name, scenario] of scenarios) {
  Deno.test(`in-flight ledger, Deno KV: ${name}`, () => withKv(scenario));
  Deno.test({
    name: `in-flight ledger, Valkey: ${name}`,
    ignore: !valkeyAvailable,
    fn: () => withValkey(scenario),
  });
}

Deno.test({
  name:
    "in-flight ledger, Valkey: one hash per job, <prefix><jobId>:in-flight, fields are the lease keys' timestamps; a corrupt record is a data error",
  ignore: !valkeyAvailable,
  fn: () =>
    withValkey(async ({ ledger }, url) => {
      const raw = openClient(url, "test").client;
      await connectClient(raw);
      try {
        const lease = acquired(
          await ledger.acquire(slot(Date.UTC(2026, 3, 3, 1, 2, 3))),
        );
        const key = "scheduler:valkey:execution-lease:job:in-flight";
        const field = "2026-04-03T01:02:03.000000000Z";
        assert.equal(
          lease.leaseKey,
          `scheduler:valkey:execution-lease:job:${field}`,
        );
        const value = JSON.parse((await raw.hget(key, field))!);
        assert.deepEqual(Object.keys(value), [
          "job_id",
          "scheduled_at",
          "trigger_count",
          "catch_up",
          "fencing_token",
          "holder",
          "lease_deadline_ms",
        ]);
        assert.equal(value.holder, lease.token);
        assert.equal(value.fencing_token, String(lease.fencingToken));
        await raw.hset(key, field, "{not json");
        await assert.rejects(
          () => ledger.list("job"),
          (error) =>
            error instanceof ExecutionGuardError && error.kind === "data" &&
            error.message.includes('"job"') &&
            error.message.includes("{not json"),
        );
      } finally {
        await closeClient(raw);
      }
    }),
});

Deno.test('in-flight ledger, Deno KV: records live at [...prefix, "in-flight", jobId, scheduledAtMs]; a corrupt one is a data error', async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const ledger = new DenoKvExecutionGuard(kv, LEASE).inFlight;
    const lease = acquired(await ledger.acquire(slot(T0)));
    const key = ["scheduler", "execution-lease", "in-flight", "job", T0];
    const stored = await kv.get<{ holder: string }>(key);
    assert.equal(stored.value?.holder, lease.token);
    await kv.set(key, { holder: 42 });
    await assert.rejects(
      () => ledger.list("job"),
      (error) =>
        error instanceof ExecutionGuardError && error.kind === "data" &&
        error.message.includes('"job"'),
    );
  } finally {
    kv.close();
  }
});
