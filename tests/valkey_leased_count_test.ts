/**
 * The job's record count a Valkey leased grant answers
 * (`LeasedAcquire.inFlight`) without its `HLEN` on the steady path
 * (`src/valkey/_leased_counts.ts`): counted by the script only when
 * another grant moved the fencing counter since the store's last, or when
 * the state changed behind the store's back; never below the records
 * there are. And a wrong-type in-flight hash met on that path still saves
 * nothing. Through the public API on one real server (`HLEN` calls read
 * from `INFO commandstats`); ignored without valkey-server.
 */
import assert from "node:assert/strict";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { assertGuardError } from "./_assert_errors.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { cli } from "./_valkey_topology.ts";
import { LEASE, leasedSlot, leasedState } from "./_valkey_leased.ts";
import { commandStats } from "./_valkey_counting.ts";

const available = await hasValkeyServer();
const PREFIX = "scheduler:valkey:execution-lease:";

interface Pair {
  store: ValkeyStateStore;
  guard: ValkeyExecutionGuard;
}

async function withServer(
  body: (server: {
    pair: () => Promise<Pair>;
    cli: (...args: string[]) => Promise<string>;
    /** `HLEN` calls the server executed so far. */
    hlens: () => Promise<number>;
  }) => Promise<void>,
): Promise<void> {
  await withValkeyServer(async (server) => {
    const opened: Pair[] = [];
    try {
      await body({
        pair: async () => {
          const store = await ValkeyStateStore.connect(server.url);
          const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
          opened.push({ store, guard });
          return { store, guard };
        },
        cli: (...args) => cli(server.port, ...args),
        hlens: async () => (await commandStats(server.port)).get("hlen") ?? 0,
      });
    } finally {
      for (const { store, guard } of opened) {
        await guard.close();
        await store.close();
      }
    }
  });
}

async function grant(pair: Pair, jobId: string, n: number) {
  const answer = await pair.store.saveAndAcquire({
    guard: pair.guard,
    state: leasedState(jobId, n),
    slot: leasedSlot(jobId, n),
    record: true,
  });
  assert.equal(answer.kind, "acquired");
  return answer as typeof answer & { kind: "acquired" };
}

function complete(pair: Pair, lease: { jobId: string }, n: number) {
  return pair.store.saveAndEnd({
    guard: pair.guard,
    state: leasedState(lease.jobId, n),
    lease: lease as Parameters<ValkeyStateStore["saveAndEnd"]>[0]["lease"],
    end: "complete",
  });
}

Deno.test({
  name:
    "leased count, Valkey: a store's steady grants count without HLEN and stay exact (a given-back record counted, a completed one not)",
  ignore: !available,
  fn: async () => {
    await withServer(async ({ pair, hlens }) => {
      const a = await pair();
      const start = await hlens();
      const first = await grant(a, "steady", 1);
      assert.equal(first.inFlight, 1);
      assert.equal(await hlens() - start, 1, "counted once: nothing known");
      await a.store.saveAndEnd({
        guard: a.guard,
        state: leasedState("steady", 1),
        lease: first.lease,
        end: "abandon",
      });
      const second = await grant(a, "steady", 2);
      assert.equal(second.inFlight, 2, "the given-back record is counted");
      await complete(a, second.lease, 2);
      const third = await grant(a, "steady", 3);
      assert.equal(third.inFlight, 2);
      await complete(a, third.lease, 3);
      const fourth = await grant(a, "steady", 4);
      assert.equal(fourth.inFlight, 2);
      assert.equal(await hlens() - start, 1, "no HLEN after the first grant");
    });
  },
});

Deno.test({
  name:
    "leased count, Valkey: a record another instance's grant wrote in between (leased or through the guard) is counted",
  ignore: !available,
  fn: async () => {
    await withServer(async ({ pair, hlens }) => {
      const a = await pair();
      const b = await pair();
      await grant(a, "other", 1);
      const start = await hlens();
      await grant(b, "other", 2); // another store: knows nothing, counts
      const mine = await grant(a, "other", 3);
      assert.equal(mine.inFlight, 3, "b's record counted");
      assert.equal(await hlens() - start, 2);
      // A grant through the guard's own ledger moves the counter too.
      const ledger = await b.guard.inFlight.acquire(leasedSlot("other", 4));
      assert.equal(ledger.kind, "acquired");
      const next = await grant(a, "other", 5);
      assert.equal(next.inFlight, 5);
      assert.equal(await hlens() - start, 3);
    });
  },
});

Deno.test({
  name:
    "leased count, Valkey: a state changed behind the store's back (a failover that lost a run's end, the counter as the store left it) is counted again, never low",
  ignore: !available,
  fn: async () => {
    await withServer(async ({ pair, cli }) => {
      const a = await pair();
      const first = await grant(a, "lost", 1);
      const stateKey = a.store.stateKey("lost");
      const hash = `${PREFIX}lost:in-flight`;
      const grantedState = await cli("GET", stateKey);
      const record = await cli("HGETALL", hash);
      // The run's end saves its outcome (a state unlike the grant's).
      await a.store.saveAndEnd({
        guard: a.guard,
        state: {
          ...leasedState("lost", 1),
          lastSuccessAt: leasedSlot("lost", 1).scheduledAt,
        },
        lease: first.lease,
        end: "complete",
      });
      assert.equal(await cli("HLEN", hash), "0");
      // The end is lost, the grant kept: its state and record are back,
      // the fencing counter is still the one of the store's last grant.
      const [field, value] = record.trim().split("\n");
      await cli("SET", stateKey, grantedState.trimEnd());
      await cli("HSET", hash, field, value);
      await cli("SET", first.lease.leaseKey, first.lease.token);
      const next = await grant(a, "lost", 2);
      assert.equal(next.inFlight, 2, "the lost end's record is counted");
    });
  },
});

Deno.test({
  name:
    "leased count, Valkey: an in-flight hash of another type met by a steady grant saves nothing (state, lease, counter untouched), is set aside, and the next grant goes through",
  ignore: !available,
  fn: async () => {
    await withServer(async ({ pair, cli }) => {
      const a = await pair();
      const first = await grant(a, "typ", 1);
      await complete(a, first.lease, 1);
      const fence = `${PREFIX}typ:fencing-token`;
      const counter = await cli("GET", fence);
      const hash = `${PREFIX}typ:in-flight`;
      await cli("DEL", hash);
      await cli("SET", hash, "garbage");
      await assertGuardError(
        a.store.saveAndAcquire({
          guard: a.guard,
          state: leasedState("typ", 2),
          slot: leasedSlot("typ", 2),
          record: true,
        }),
        "data",
        "set aside",
      );
      assert.equal((await a.store.load("typ"))?.triggerCount, 1, "not saved");
      const at = leasedSlot("typ", 2).scheduledAt;
      assert.equal(await cli("EXISTS", a.guard.leaseKey("typ", at)), "0");
      assert.equal(await cli("GET", fence), counter, "counter untouched");
      const keys = await cli("KEYS", `${PREFIX}typ:quarantine:*`);
      assert.equal(await cli("GET", keys.trim()), "garbage", "kept aside");
      const next = await grant(a, "typ", 2);
      assert.equal(next.inFlight, 1);
      assert.equal((await a.store.load("typ"))?.triggerCount, 2);
    });
  },
});
