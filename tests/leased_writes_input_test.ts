/**
 * What the leased writes refuse before anything is written: a lease to end
 * that is not one of the guard's for the state's job (a forged lease key, a
 * token that is not a string, another job, an invalid date) and a slot of
 * another job. Each is an `InvalidJobError` naming the value; no key is
 * touched, and a resilient store mirrors nothing for it. On Deno KV
 * `:memory:` and on one real Valkey server (ignored without valkey-server).
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  DenoKvStateStore,
  InvalidJobError,
  type JobState,
  ResilientStateStore,
  StoreError,
} from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { cli } from "./_valkey_topology.ts";

const available = await hasValkeyServer();
const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };
const AT = new Date(Date.UTC(2027, 0, 1, 3));

function state(jobId: string, triggerCount: number): JobState {
  return {
    jobId,
    triggerCount,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(AT.getTime() + triggerCount * 86_400_000),
    lastError: null,
  };
}

async function refused(write: Promise<unknown>, names: string) {
  const error = await write.then(() => undefined, (thrown) => thrown);
  assert.ok(error instanceof InvalidJobError, `refused: ${error}`);
  assert.ok(error.message.includes(names), `${error.message} names ${names}`);
}

Deno.test({
  name:
    "leased writes, Valkey: a forged lease key, a token that is not a string, another job's lease or slot are refused before any command; the forged key is untouched",
  ignore: !available,
  fn: async () => {
    await withValkeyServer(async (server) => {
      const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
      const store = await ValkeyStateStore.connect(server.url);
      try {
        await cli(server.port, "SET", "app:config", "precious");
        const lease = {
          jobId: "j",
          scheduledAt: AT,
          token: "t",
          leaseKey: "app:config",
        };
        const end = (over: object) =>
          store.saveAndEnd({
            guard,
            state: state("j", 1),
            lease: { ...lease, ...over } as never,
            end: "release",
          });
        await refused(end({}), "app:config");
        await refused(end({ token: 7 }), "7");
        await refused(end({ jobId: "other" }), "other");
        await refused(end({ scheduledAt: new Date(NaN) }), "Invalid Date");
        assert.equal(
          (await cli(server.port, "GET", "app:config")).trim(),
          "precious",
        );
        assert.equal(
          (await cli(server.port, "PTTL", "app:config")).trim(),
          "-1",
        );
        assert.equal(await store.load("j"), undefined, "nothing saved");
        await refused(
          store.saveAndAcquire({
            guard,
            state: state("j", 1),
            slot: { jobId: "other", scheduledAt: AT },
            record: false,
          }),
          "other",
        );
        assert.equal(await store.load("j"), undefined, "nothing saved");
      } finally {
        await guard.close();
        await store.close();
      }
    });
  },
});

Deno.test("leased writes, Deno KV: a lease with an invalid date is refused as invalid input, and a resilient store mirrors nothing for it", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const primary = new DenoKvStateStore(kv);
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const bad = {
      jobId: "j",
      scheduledAt: new Date(NaN),
      token: "t",
      leaseKey: "x",
    };
    await refused(
      primary.saveAndEnd({
        guard,
        state: state("j", 2),
        lease: bad,
        end: "complete",
      }),
      "Invalid Date",
    );
    let down = false;
    const flaky = new Proxy(primary, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) =>
          down && property !== "sharesWith"
            ? Promise.reject(
              new StoreError("down", { kind: "connection", operation: "load" }),
            )
            : value.apply(target, args);
      },
    });
    const store = new ResilientStateStore(flaky);
    await store.save(state("j", 1));
    await refused(
      store.saveAndEnd({
        guard,
        state: state("j", 2),
        lease: bad,
        end: "complete",
      }),
      "Invalid Date",
    );
    assert.equal((await primary.load("j"))?.triggerCount, 1);
    down = true;
    assert.equal((await store.load("j"))?.triggerCount, 1, "mirror kept 1");
  } finally {
    kv.close();
  }
});
