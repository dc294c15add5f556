/**
 * A primary that answers but refuses our credentials (StoreError kind
 * `auth`) is never masked by the resilient wrapper. When an outage ends with
 * such a refusal, every call fails with it — also between probes — and
 * nothing written during the outage is dropped.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  type JobState,
  ResilientStateStore,
  StoreError,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { T0 } from "./_engine_helpers.ts";

type Mode = "up" | "down" | "refusing";

/** An in-memory primary that can be down or refuse our credentials. */
class SwitchablePrimary extends InMemoryStateStore {
  mode: Mode = "up";
  #gate(): void {
    if (this.mode === "down") {
      throw new StoreError("connection refused", { kind: "connection" });
    }
    if (this.mode === "refusing") {
      throw new StoreError("WRONGPASS invalid username-password pair", {
        kind: "auth",
      });
    }
  }
  override async load(jobId: string) {
    this.#gate();
    return await super.load(jobId);
  }
  override async save(state: JobState) {
    this.#gate();
    return await super.save(state);
  }
  override async delete(jobId: string) {
    this.#gate();
    return await super.delete(jobId);
  }
}

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

async function rejectsAuth(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(
    promise,
    (error) => error instanceof StoreError && error.kind === "auth",
  );
}

Deno.test("resilient store: an auth refusal after an outage fails every call, keeps the outage's writes, and they reach the primary later", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new SwitchablePrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 1000 });
    const recovered: unknown[] = [];
    store.addEventListener("store-recovered", (event) => recovered.push(event));

    primary.mode = "down";
    await store.save(state("a", 1)); // masked: served by the mirror
    await store.save(state("b", 1));
    assert.equal(store.degraded, true);

    primary.mode = "refusing";
    clock.tick(1000);
    await rejectsAuth(store.save(state("a", 2))); // the probe meets the refusal
    // Between probes too: never a success the primary refused.
    await rejectsAuth(store.load("a"));
    await rejectsAuth(store.save(state("a", 2)));
    clock.tick(1000);
    await rejectsAuth(store.load("b")); // next probe, still refused
    assert.equal(recovered.length, 0);

    primary.mode = "up";
    clock.tick(1000);
    assert.equal((await store.load("b"))?.triggerCount, 1);
    assert.equal(recovered.length, 1);
    assert.equal(store.degraded, false);
    assert.equal((await primary.load("a"))?.triggerCount, 1, "kept dirty");
    assert.equal((await primary.load("b"))?.triggerCount, 1, "kept dirty");
  });
});

Deno.test("resilient store: an auth refusal while up is thrown on every call, not masked", async () => {
  const primary = new SwitchablePrimary();
  const store = new ResilientStateStore(primary);
  primary.mode = "refusing";
  for (let call = 0; call < 3; call++) {
    await rejectsAuth(store.save(state("a", call)));
  }
  assert.equal(store.degraded, false);
});
