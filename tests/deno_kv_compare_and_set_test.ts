/**
 * The Deno KV state store's compare-and-set, deterministic and in one
 * process: a writer whose view is stale (another writer committed between
 * its read and its commit, or since its last save) merges again and never
 * moves the stored state back.
 */
import assert from "node:assert/strict";
import { DenoKvStateStore, type JobState } from "../mod.ts";

const T = Date.UTC(2026, 3, 3, 1, 2, 3);

function state(triggerCount: number, lastRunAt: number | null): JobState {
  return {
    jobId: "cas",
    triggerCount,
    nextRunAt: new Date(T + (triggerCount + 1) * 1000),
    lastRunAt: lastRunAt === null ? null : new Date(lastRunAt),
    lastSuccessAt: null,
    lastError: null,
  };
}

/**
 * `kv` whose first atomic commit runs `between` first: another writer
 * commits after this one read the key and before its commit lands.
 */
function interleaved(kv: Deno.Kv, between: () => Promise<void>): Deno.Kv {
  let done = false;
  return new Proxy(kv, {
    get(target, property) {
      if (property !== "atomic") {
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return () => {
        const operation = target.atomic();
        const commit = operation.commit.bind(operation);
        operation.commit = async () => {
          if (!done) {
            done = true;
            await between();
          }
          return commit();
        };
        return operation;
      };
    },
  });
}

Deno.test("Deno KV compare-and-set: a writer that committed between a save's read and its commit is merged with, not overwritten", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const other = new DenoKvStateStore(kv);
    await other.save(state(1, T));
    const stale = new DenoKvStateStore(
      interleaved(kv, () => other.save(state(10, T + 10_000))),
    );
    // Read count 1, then the other writer stores count 10, then commit.
    await stale.save(state(2, T + 2_000));
    const stored = await other.load("cas");
    assert.equal(stored?.triggerCount, 10, "the cursor did not go back");
    assert.deepEqual(stored?.lastRunAt, new Date(T + 10_000));
  } finally {
    kv.close();
  }
});

Deno.test("Deno KV compare-and-set: a store whose last-seen entry is stale (another instance saved since) merges again", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const a = new DenoKvStateStore(kv);
    const b = new DenoKvStateStore(kv);
    await a.save(state(5, T + 5_000)); // a remembers this entry
    await b.save(state(9, T + 9_000));
    await a.save(state(6, T + 6_000)); // stale: merged over count 9
    const stored = await b.load("cas");
    assert.equal(stored?.triggerCount, 9);
    assert.deepEqual(stored?.lastRunAt, new Date(T + 9_000));
  } finally {
    kv.close();
  }
});
