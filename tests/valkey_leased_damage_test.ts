/**
 * Damaged ledger data on the Valkey leased writes (`src/valkey/_lua_leased.ts`)
 * and what a grant answers about the ledger, checked against Deno KV's
 * leased writes as the reference: an end that meets a record that does not
 * decode or an in-flight hash of another type saves the state, sets the
 * damage aside and reports it as kind `data`; a grant that meets such a hash
 * saves nothing; a grant answers the job's record count; a slot without
 * what a record needs is refused; a lease granted without a record never
 * clears another holder's record. Through the public API on one real
 * server; ignored without valkey-server.
 */
import assert from "node:assert/strict";
import type {
  ValkeyExecutionGuard,
  ValkeyStateStore,
} from "../src/valkey/mod.ts";
import { assertGuardError } from "./_assert_errors.ts";
import { hasValkeyServer } from "./_valkey_server.ts";
import { leasedSlot, leasedState, withLeasedPair } from "./_valkey_leased.ts";

const available = await hasValkeyServer();
const PREFIX = "scheduler:valkey:execution-lease:";

async function grant(
  store: ValkeyStateStore,
  guard: ValkeyExecutionGuard,
  options: { jobId: string; n: number },
) {
  const answer = await store.saveAndAcquire({
    guard,
    state: leasedState(options.jobId, options.n),
    slot: leasedSlot(options.jobId, options.n),
    record: true,
  });
  assert.equal(answer.kind, "acquired");
  return answer as typeof answer & { kind: "acquired" };
}

for (const retention of [0, 60_000]) {
  Deno.test({
    name:
      `leased end, Valkey: a record that does not decode (completedRetentionMs ${retention}, the lease run out) is set aside; the state is saved; kind data after the save`,
    ignore: !available,
    fn: async () => {
      await withLeasedPair(
        { completedRetentionMs: retention },
        async (pair) => {
          const { store, guard, cli } = pair;
          const { lease } = await grant(store, guard, { jobId: "rec", n: 1 });
          const hash = `${PREFIX}rec:in-flight`;
          const field = (await cli("HKEYS", hash)).trim();
          await cli("HSET", hash, field, "not json{");
          await cli("DEL", lease.leaseKey); // ran out while the run finished
          const error = await assertGuardError(
            store.saveAndEnd({
              guard,
              state: leasedState("rec", 2),
              lease,
              end: "complete",
            }),
            "data",
            "does not decode",
          );
          assert.match(error.message, /state was saved/);
          assert.match(error.message, /set aside in .*quarantine:in-flight/);
          assert.equal((await store.load("rec"))?.triggerCount, 2, "saved");
          assert.equal(await cli("HLEN", hash), "0", "moved out of the ledger");
          const aside = await cli(
            "HGETALL",
            `${PREFIX}rec:quarantine:in-flight`,
          );
          assert.match(aside, /not json\{/);
          assert.deepEqual(await guard.inFlight.list("rec"), []);
        },
      );
    },
  });
}

Deno.test({
  name:
    "leased end, Valkey: an in-flight hash of another type is set aside whole; the state is saved; kind data after the save; the next grant goes through",
  ignore: !available,
  fn: async () => {
    await withLeasedPair({}, async ({ store, guard, cli }) => {
      const { lease } = await grant(store, guard, { jobId: "typ", n: 1 });
      const hash = `${PREFIX}typ:in-flight`;
      await cli("DEL", hash);
      await cli("SET", hash, "garbage");
      const error = await assertGuardError(
        store.saveAndEnd({
          guard,
          state: leasedState("typ", 2),
          lease,
          end: "complete",
        }),
        "data",
        "WRONGTYPE",
      );
      assert.match(error.message, /holds a string, not a hash \(set aside at /);
      assert.equal((await store.load("typ"))?.triggerCount, 2, "saved");
      assert.equal(await cli("EXISTS", hash), "0");
      const keys = await cli(
        "KEYS",
        `${PREFIX}typ:quarantine:in-flight-hash:*`,
      );
      assert.equal(await cli("GET", keys.trim()), "garbage", "kept aside");
      assert.match(await cli("GET", lease.leaseKey), /^done:/, "lease ended");
      await grant(store, guard, { jobId: "typ", n: 3 });
      assert.equal(await cli("HLEN", hash), "1");
    });
  },
});

Deno.test({
  name:
    "leased grant, Valkey: an in-flight hash of another type saves nothing (state, lease, counter untouched), is set aside, and the next grant goes through",
  ignore: !available,
  fn: async () => {
    await withLeasedPair({}, async ({ store, guard, cli }) => {
      await store.save(leasedState("grant", 0));
      const hash = `${PREFIX}grant:in-flight`;
      await cli("SET", hash, "garbage");
      await assertGuardError(
        store.saveAndAcquire({
          guard,
          state: leasedState("grant", 1),
          slot: leasedSlot("grant", 1),
          record: true,
        }),
        "data",
        "set aside",
      );
      assert.equal((await store.load("grant"))?.triggerCount, 0, "not saved");
      const at = leasedSlot("grant", 1).scheduledAt;
      assert.equal(await cli("EXISTS", guard.leaseKey("grant", at)), "0");
      assert.equal(await cli("EXISTS", `${PREFIX}grant:fencing-token`), "0");
      const keys = await cli("KEYS", `${PREFIX}grant:quarantine:*`);
      assert.equal(await cli("GET", keys.trim()), "garbage", "kept aside");
      const next = await grant(store, guard, { jobId: "grant", n: 1 });
      assert.equal(next.inFlight, 1);
      assert.equal((await store.load("grant"))?.triggerCount, 1);
    });
  },
});

Deno.test({
  name:
    "leased grant, Valkey: answers the job's in-flight record count (LeasedAcquire.inFlight), as Deno KV does",
  ignore: !available,
  fn: async () => {
    await withLeasedPair({}, async ({ store, guard }) => {
      const first = await grant(store, guard, { jobId: "count", n: 1 });
      assert.equal(first.inFlight, 1);
      // Given back (a cancelled run): its record stays, to be replayed.
      await store.saveAndEnd({
        guard,
        state: leasedState("count", 1),
        lease: first.lease,
        end: "abandon",
      });
      const second = await grant(store, guard, { jobId: "count", n: 2 });
      assert.equal(second.inFlight, 2, "the given-back record is counted");
      await store.saveAndEnd({
        guard,
        state: leasedState("count", 2),
        lease: second.lease,
        end: "complete",
      });
      const third = await grant(store, guard, { jobId: "count", n: 3 });
      assert.equal(third.inFlight, 2);
      const plain = await store.saveAndAcquire({
        guard,
        state: leasedState("count", 4),
        slot: {
          jobId: "count",
          scheduledAt: leasedSlot("count", 4).scheduledAt,
        },
        record: false,
      });
      assert.equal(plain.kind, "acquired");
      assert.equal(plain.inFlight, undefined, "no record, no count");
    });
  },
});

Deno.test({
  name:
    "leased grant, Valkey: a record asked for a slot without triggerCount and catchUp is refused naming the slot, nothing written",
  ignore: !available,
  fn: async () => {
    await withLeasedPair({}, async ({ store, guard, cli }) => {
      await store.save(leasedState("slot", 0));
      const scheduledAt = leasedSlot("slot", 1).scheduledAt;
      await assertGuardError(
        store.saveAndAcquire({
          guard,
          state: leasedState("slot", 1),
          slot: { jobId: "slot", scheduledAt },
          record: true,
        }),
        "data",
        '"scheduledAt":"2026-01-01T00:01:00.000Z"',
      );
      assert.equal((await store.load("slot"))?.triggerCount, 0, "not saved");
      assert.equal(await cli("EXISTS", `${PREFIX}slot:in-flight`), "0");
      assert.equal(
        await cli("EXISTS", guard.leaseKey("slot", scheduledAt)),
        "0",
      );
    });
  },
});

Deno.test({
  name:
    "leased end, Valkey: a lease granted without a record (a manual run's) at the instant of a dead holder's record leaves that record, to be replayed",
  ignore: !available,
  fn: async () => {
    await withLeasedPair({}, async ({ store, guard, cli }) => {
      const dead = await grant(store, guard, { jobId: "manual", n: 1 });
      await cli("DEL", dead.lease.leaseKey); // its lease ran out
      const { scheduledAt } = leasedSlot("manual", 1);
      const manual = await guard.acquire({ jobId: "manual", scheduledAt });
      assert.equal(manual.kind, "acquired");
      await store.saveAndEnd({
        guard,
        state: leasedState("manual", 2),
        lease: manual.lease!,
        end: "complete",
      });
      const records = await guard.inFlight.list("manual");
      assert.equal(records.length, 1, "the dead holder's record stays");
      assert.equal(records[0].holder, dead.lease.token);
      assert.equal((await store.load("manual"))?.triggerCount, 2);
    });
  },
});
