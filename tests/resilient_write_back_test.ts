/**
 * `ResilientStateStore`'s write-back: a delete made during an outage reaches
 * the primary before the save that followed it, `close()` names the states
 * it could not write back instead of dropping them, and only a real answer
 * from the primary ends an outage (`store-recovered`).
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  type JobState,
  ResilientStateStore,
  StoreError,
  type StoreEventDetail,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";

const T = Date.UTC(2026, 0, 1);

/** An in-memory primary that is down (connection) or refuses (data). */
class FlakyPrimary extends InMemoryStateStore {
  mode: "up" | "down" | "refuse" = "up";
  /** Primary calls made, in order (`op:jobId`). */
  readonly calls: string[] = [];
  #check(op: string, jobId: string): void {
    this.calls.push(`${op}:${jobId}`);
    if (this.mode === "down") {
      throw new StoreError("primary down", { kind: "connection" });
    }
    if (this.mode === "refuse") {
      throw new StoreError("value too large", { kind: "data" });
    }
  }
  override async load(jobId: string): Promise<JobState | undefined> {
    this.#check("load", jobId);
    return await super.load(jobId);
  }
  override async save(state: JobState): Promise<void> {
    this.#check("save", state.jobId);
    return await super.save(state);
  }
  override async delete(jobId: string): Promise<void> {
    this.#check("delete", jobId);
    return await super.delete(jobId);
  }
  override async createIfAbsent(
    state: JobState,
  ): Promise<JobState | undefined> {
    this.#check("createIfAbsent", state.jobId);
    return await super.createIfAbsent(state);
  }
}

function state(jobId: string, triggerCount: number): JobState {
  return {
    jobId,
    triggerCount,
    lastRunAt: new Date(T + triggerCount * 1000 - 1000),
    lastSuccessAt: null,
    nextRunAt: new Date(T + triggerCount * 1000),
    lastError: null,
  };
}

function record(store: ResilientStateStore): string[] {
  const events: string[] = [];
  for (const type of ["store-degraded", "store-recovered"]) {
    store.addEventListener(type, (event) => {
      const detail = (event as CustomEvent<StoreEventDetail>).detail;
      events.push(`${type}:${detail.operation}:${detail.jobId ?? "-"}`);
    });
  }
  return events;
}

Deno.test("a delete during an outage reaches the primary before the save that followed it", async () => {
  const primary = new FlakyPrimary();
  const store = new ResilientStateStore(primary, { probeIntervalMs: 0 });
  const events = record(store);
  await store.save(state("j", 50));
  primary.mode = "down";
  await store.delete("j"); // start the job over (docs/stores.md)
  await store.save(state("j", 1));
  primary.mode = "up";
  primary.calls.length = 0;
  assert.equal((await store.load("j"))?.triggerCount, 1);
  // The load first: the primary still holds what this instance knew.
  assert.deepEqual(primary.calls, ["load:j", "delete:j", "save:j", "load:j"]);
  assert.deepEqual(await primary.load("j"), state("j", 1));
  assert.deepEqual(events, [
    "store-degraded:delete:j",
    "store-recovered:load:j",
  ]);
});

Deno.test("a delete during an outage, then createIfAbsent, is written back in that order", async () => {
  const primary = new FlakyPrimary();
  const store = new ResilientStateStore(primary, { probeIntervalMs: 0 });
  await store.save(state("j", 50));
  primary.mode = "down";
  await store.delete("j");
  assert.equal(await store.createIfAbsent(state("j", 1)), undefined);
  primary.mode = "up";
  primary.calls.length = 0;
  await store.load("j");
  assert.deepEqual(primary.calls.slice(0, 3), ["load:j", "delete:j", "save:j"]);
  assert.deepEqual(await primary.load("j"), state("j", 1));
});

Deno.test("a delete during an outage with no save after it only deletes on the primary", async () => {
  const primary = new FlakyPrimary();
  const store = new ResilientStateStore(primary, { probeIntervalMs: 0 });
  await store.save(state("j", 50));
  primary.mode = "down";
  await store.delete("j");
  primary.mode = "up";
  primary.calls.length = 0;
  assert.equal(await store.load("j"), undefined);
  assert.deepEqual(primary.calls, ["load:j", "delete:j", "load:j"]);
});

Deno.test("a delete during an outage is not replayed over a state another writer saved since: that state is kept and the skipped delete reported", async () => {
  const primary = new FlakyPrimary();
  const store = new ResilientStateStore(primary, { probeIntervalMs: 0 });
  const notes: string[] = [];
  store.addEventListener("store-recovered", (event) => {
    const detail = (event as CustomEvent<StoreEventDetail>).detail;
    if (detail.note !== undefined) {
      notes.push(`${detail.jobId}: ${detail.note}`);
    }
  });
  await store.save(state("j", 10));
  await store.save(state("k", 10));
  primary.mode = "down";
  await store.delete("j");
  await store.save(state("j", 1));
  await store.delete("k");
  // Another instance, on the primary directly, finishes both jobs meanwhile.
  primary.mode = "up";
  await InMemoryStateStore.prototype.save.call(primary, state("j", 50));
  await InMemoryStateStore.prototype.save.call(primary, state("k", 50));
  primary.calls.length = 0;
  await store.load("j");
  assert.ok(!primary.calls.includes("delete:j"), primary.calls.join(" "));
  assert.ok(!primary.calls.includes("delete:k"), primary.calls.join(" "));
  // Kept, never moved back: the merging save folds the fresh state into it.
  assert.equal((await primary.load("j"))?.triggerCount, 50);
  assert.equal((await primary.load("k"))?.triggerCount, 50);
  assert.equal(notes.length, 2, notes.join(" | "));
  assert.match(
    notes[0],
    /^j: the delete of job "j" made during the outage was not replayed/,
  );
  assert.match(notes[1], /^k: the delete of job "k"/);
});

Deno.test("a write-back cut between the delete and the save does not delete again", async () => {
  const primary = new FlakyPrimary();
  const store = new ResilientStateStore(primary, { probeIntervalMs: 0 });
  await store.save(state("j", 50));
  primary.mode = "down";
  await store.delete("j");
  await store.save(state("j", 1));
  // The delete gets through, the save meets the outage again.
  const save = primary.save.bind(primary);
  primary.mode = "up";
  primary.save = (s) => {
    primary.mode = "down";
    return save(s);
  };
  await store.load("j");
  assert.equal(
    await InMemoryStateStore.prototype.load.call(primary, "j"),
    undefined,
  );
  assert.equal(store.degraded, true);
  primary.save = save;
  primary.mode = "up";
  primary.calls.length = 0;
  await store.load("j");
  assert.deepEqual(primary.calls, ["save:j", "load:j"]);
  assert.deepEqual(await primary.load("j"), state("j", 1));
});

Deno.test("close() rejects, naming the jobs, when the primary is still down", async () => {
  const primary = new FlakyPrimary();
  const store = new ResilientStateStore(primary, { probeIntervalMs: 60_000 });
  await store.save(state("j", 1));
  primary.mode = "down";
  await store.save(state("j", 2));
  await store.save(state("k", 3));
  const error = await store.close().then(() => undefined, (e) => e);
  assert.ok(error instanceof StoreError, String(error));
  assert.equal(error.kind, "connection");
  assert.equal(error.operation, "save");
  assert.match(error.message, /"j", "k"/);
  assert.match(error.message, /primary down/);
});

Deno.test("close() rejects, naming the job and why, when the primary refuses a state", async () => {
  const primary = new FlakyPrimary();
  const store = new ResilientStateStore(primary, { probeIntervalMs: 60_000 });
  await store.save(state("j", 1));
  primary.mode = "down";
  await store.save(state("j", 2));
  primary.mode = "refuse";
  const error = await store.close().then(() => undefined, (e) => e);
  assert.ok(error instanceof StoreError, String(error));
  assert.equal(error.kind, "data");
  assert.match(error.message, /"j"/);
  assert.match(error.message, /value too large/);
  primary.mode = "up";
  assert.equal((await primary.load("j"))?.triggerCount, 1);
});

Deno.test("close() rejects for a refused write-back no call was left to report", async () => {
  const primary = new FlakyPrimary();
  const store = new ResilientStateStore(primary, { probeIntervalMs: 0 });
  primary.mode = "down";
  await store.save(state("j", 2));
  primary.mode = "refuse";
  await store.load("k").catch(() => {}); // probes: j's write-back is refused
  primary.mode = "up";
  await store.load("k");
  const error = await store.close().then(() => undefined, (e) => e);
  assert.ok(error instanceof StoreError, String(error));
  assert.match(error.message, /"j"/);
});

Deno.test("close() dispatches store-recovered when its last write-back ends an outage", async () => {
  const primary = new FlakyPrimary();
  const store = new ResilientStateStore(primary, { probeIntervalMs: 60_000 });
  const events = record(store);
  primary.mode = "down";
  await store.save(state("j", 2));
  primary.mode = "up";
  await store.close();
  assert.deepEqual(await primary.load("j"), state("j", 2));
  assert.deepEqual(events, ["store-degraded:save:j", "store-recovered:save:j"]);
  assert.equal(store.degraded, false);
});

Deno.test("a probe with nothing to write back does not report a recovery while the primary is down", async () => {
  await withFakeClock(T, async (clock) => {
    const primary = new FlakyPrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 5_000 });
    const events = record(store);
    primary.mode = "down";
    for (const id of ["a", "b", "c"]) {
      assert.equal(await store.load(id), undefined);
      clock.tick(6_000);
    }
    assert.deepEqual(events, ["store-degraded:load:a"]);
    assert.equal(store.degraded, true);
    assert.deepEqual(primary.calls, ["load:a", "load:b", "load:c"]);
    primary.mode = "up";
    await store.save(state("d", 1));
    assert.deepEqual(events, [
      "store-degraded:load:a",
      "store-recovered:save:d",
    ]);
  });
});
