/**
 * The rare paths of the Valkey leased writes (`src/valkey/_lua_leased.ts`),
 * where a write that answered what it replaced must be put back: damaged
 * guard data at the grant (set aside, nothing saved), a state changed by
 * another writer (merged and written again), and a lease that is no longer
 * the caller's at the end (left as it was). Through the public API on one
 * real server; ignored without valkey-server.
 */
import assert from "node:assert/strict";
import type { ExecutionLease } from "../mod.ts";
import { ValkeyStateStore } from "../src/valkey/mod.ts";
import { assertGuardError } from "./_assert_errors.ts";
import { hasValkeyServer } from "./_valkey_server.ts";
import {
  LEASE,
  leasedSlot,
  leasedState,
  withLeasedPair,
} from "./_valkey_leased.ts";

const available = await hasValkeyServer();

function granted(answer: { kind: string; lease?: ExecutionLease }) {
  assert.equal(answer.kind, "acquired");
  return answer.lease!;
}

Deno.test({
  name:
    "leased writes, Valkey: a damaged counter or lease key at the grant is set aside and nothing is saved; the next grant goes through",
  ignore: !available,
  fn: async () => {
    await withLeasedPair({}, async ({ store, guard, cli }) => {
      await store.save(leasedState("damaged", 1));
      const fence = "scheduler:valkey:execution-lease:damaged:fencing-token";
      await cli("SET", fence, "not a number");
      await assertGuardError(
        store.saveAndAcquire({
          guard,
          state: leasedState("damaged", 2),
          slot: leasedSlot("damaged", 2),
          record: true,
        }),
        "data",
        "set aside",
      );
      assert.equal((await store.load("damaged"))?.triggerCount, 1, "not saved");
      assert.equal(await cli("EXISTS", fence), "0", "the counter moved");
      assert.equal(await cli("HLEN", `${fence.slice(0, -13)}in-flight`), "0");
      const lease = granted(
        await store.saveAndAcquire({
          guard,
          state: leasedState("damaged", 2),
          slot: leasedSlot("damaged", 2),
          record: true,
        }),
      );
      assert.equal((await store.load("damaged"))?.triggerCount, 2);
      // A damaged lease value: raised, nothing saved, set aside.
      const at = leasedSlot("damaged", 3).scheduledAt;
      await cli("SET", guard.leaseKey("damaged", at), "garbage");
      await assertGuardError(
        store.saveAndAcquire({
          guard,
          state: leasedState("damaged", 3),
          slot: leasedSlot("damaged", 3),
          record: true,
        }),
        "data",
        "damaged lease",
      );
      assert.equal((await store.load("damaged"))?.triggerCount, 2, "not saved");
      assert.equal(await cli("EXISTS", guard.leaseKey("damaged", at)), "0");
      const next = granted(
        await store.saveAndAcquire({
          guard,
          state: leasedState("damaged", 3),
          slot: leasedSlot("damaged", 3),
          record: true,
        }),
      );
      assert.ok(next.fencingToken! > lease.fencingToken!, "tokens go up");
    });
  },
});

Deno.test({
  name:
    "leased writes, Valkey: a state another writer changed is merged and written again, never moved back",
  ignore: !available,
  fn: async () => {
    await withLeasedPair({}, async ({ store, guard, url }) => {
      await store.save(leasedState("merged", 1));
      // Another instance's store saves after this one last looked.
      const other = await ValkeyStateStore.connect(url);
      await other.save(leasedState("merged", 5));
      await other.close();
      const lease = granted(
        await store.saveAndAcquire({
          guard,
          state: leasedState("merged", 2),
          slot: leasedSlot("merged", 2),
          record: true,
        }),
      );
      assert.equal((await store.load("merged"))?.triggerCount, 5);
      const again = await ValkeyStateStore.connect(url);
      await again.save({ ...leasedState("merged", 6), lastError: "elsewhere" });
      await again.close();
      await store.saveAndEnd({
        guard,
        state: { ...leasedState("merged", 2), lastSuccessAt: new Date(0) },
        lease,
        end: "complete",
      });
      const stored = await store.load("merged");
      assert.equal(stored?.triggerCount, 6);
      assert.equal(stored?.lastSuccessAt?.getTime(), 0);
      assert.deepEqual(await guard.inFlight.list("merged"), []);
    });
  },
});

Deno.test({
  name:
    "leased writes, Valkey: at the end, a lease taken over by another holder is left as it was, an expired one is marked done",
  ignore: !available,
  fn: async () => {
    await withLeasedPair({}, async ({ store, guard, cli }) => {
      const lease = granted(
        await store.saveAndAcquire({
          guard,
          state: leasedState("ended", 1),
          slot: leasedSlot("ended", 1),
          record: true,
        }),
      );
      // The lease ran out and another holder reclaimed the occurrence: its
      // token in the lease key, its name in the record.
      const other = "0f0e0d0c-0b0a-4908-8706-050403020100";
      await cli("SET", lease.leaseKey, other, "PX", "5000");
      const hash = "scheduler:valkey:execution-lease:ended:in-flight";
      const field = lease.leaseKey.slice(
        lease.leaseKey.lastIndexOf("ended:") + 6,
      );
      const text = await cli("HGET", hash, field);
      await cli("HSET", hash, field, text.replace(lease.token, other));
      await store.saveAndEnd({
        guard,
        state: leasedState("ended", 1),
        lease,
        end: "complete",
      });
      assert.equal(await cli("GET", lease.leaseKey), other, "left alone");
      const ttl = Number(await cli("PTTL", lease.leaseKey));
      assert.ok(ttl > 0 && ttl <= LEASE.ttlMs, `a holder's ttl: ${ttl}`);
      const [record] = await guard.inFlight.list("ended");
      assert.equal(record?.holder, other, "the new holder's record stays");
      // Ours again, expired before the end: marked done, record cleared.
      const second = granted(
        await store.saveAndAcquire({
          guard,
          state: leasedState("ended", 2),
          slot: leasedSlot("ended", 2),
          record: true,
        }),
      );
      await cli("DEL", second.leaseKey);
      await store.saveAndEnd({
        guard,
        state: leasedState("ended", 2),
        lease: second,
        end: "complete",
      });
      assert.equal(await cli("GET", second.leaseKey), `done:${second.token}`);
      assert.deepEqual(
        (await guard.inFlight.list("ended")).map((r) => r.triggerCount),
        [1],
      );
    });
  },
});
