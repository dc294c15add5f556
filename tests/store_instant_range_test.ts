/**
 * Every store holds the same instants: the years 0000-9999, what RFC 3339
 * (the Rust crate's JSON) can write. The in-memory store and the resilient
 * one (healthy or degraded) refuse what Deno KV refuses, with the same
 * `StoreError` kind `data` and the same message, so that a test that passes
 * in memory does not fail in production; and all of them keep the first and
 * the last instant of that range.
 */
import assert from "node:assert/strict";
import {
  DenoKvStateStore,
  InMemoryStateStore,
  type JobState,
  ResilientStateStore,
  type StateStore,
  StoreError,
} from "../mod.ts";

const FIRST = new Date("0000-01-01T00:00:00.000Z");
const LAST = new Date("9999-12-31T23:59:59.999Z");

function state(fields: Partial<JobState>): JobState {
  return {
    jobId: "a",
    triggerCount: 1,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: null,
    lastError: null,
    ...fields,
  };
}

/** A primary that is down: every call a connection error. */
const unreachable: StateStore = {
  load: () => Promise.reject(new StoreError("down", { kind: "connection" })),
  save: () => Promise.reject(new StoreError("down", { kind: "connection" })),
  delete: () => Promise.reject(new StoreError("down", { kind: "connection" })),
};

async function withStores(
  body: (stores: [string, StateStore][]) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const degraded = new ResilientStateStore(unreachable);
  // Degraded from here: saves go to its mirror.
  await degraded.save(state({ jobId: "warm" }));
  try {
    await body([
      ["DenoKvStateStore", new DenoKvStateStore(kv)],
      ["InMemoryStateStore", new InMemoryStateStore()],
      [
        "ResilientStateStore(InMemory)",
        new ResilientStateStore(new InMemoryStateStore()),
      ],
      ["ResilientStateStore, degraded", degraded],
    ]);
  } finally {
    // Its primary never came back: close() names what it did not write back.
    await assert.rejects(() => degraded.close(), { kind: "connection" });
    kv.close();
  }
}

/** What a save of `value` ends in: `saved` or the error, described. */
async function saveOutcome(
  store: StateStore,
  value: JobState,
  how: "save" | "createIfAbsent",
): Promise<string> {
  try {
    if (how === "save") await store.save(value);
    else {
      const create = (store as { createIfAbsent?: typeof store.save })
        .createIfAbsent;
      if (create === undefined) return "no createIfAbsent";
      await create.call(store, value);
    }
    return "saved";
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    return `${error.kind}/${error.operation}: ${error.message}`;
  }
}

Deno.test("every store refuses an instant past 9999 or before 0000 alike, with StoreError kind data", async () => {
  const beyond = [
    state({ nextRunAt: new Date("+010000-01-01T00:00:00Z") }),
    state({ lastRunAt: new Date("-000001-12-31T23:59:59.999Z") }),
    state({ lastSuccessAt: new Date(LAST.getTime() + 1) }),
    state({ nextRunAt: new Date(8.64e15) }),
  ];
  await withStores(async (stores) => {
    for (const value of beyond) {
      const kv = await saveOutcome(stores[0][1], value, "save");
      assert.match(
        kv,
        /^data\/save: the state of job "a" cannot be stored: .* is outside the years 0000-9999 that RFC 3339 can write$/,
      );
      // Deno KV's own createIfAbsent included: it used to say kind unknown.
      for (const [name, store] of stores) {
        for (const how of ["save", "createIfAbsent"] as const) {
          assert.equal(await saveOutcome(store, value, how), kv, name);
        }
      }
      for (const [name, store] of stores) {
        assert.equal(await store.load("a"), undefined, `${name} kept nothing`);
      }
    }
  });
});

Deno.test("every store keeps the first and the last instant RFC 3339 can write", async () => {
  await withStores(async (stores) => {
    for (const [name, store] of stores) {
      const value = state({
        lastRunAt: FIRST,
        lastSuccessAt: FIRST,
        nextRunAt: LAST,
      });
      assert.equal(await saveOutcome(store, value, "save"), "saved", name);
      const loaded = await store.load("a");
      assert.equal(loaded?.lastRunAt?.toISOString(), FIRST.toISOString());
      assert.equal(loaded?.nextRunAt?.toISOString(), LAST.toISOString());
    }
  });
});
