/**
 * The runtime-neutral parts of shared state: the monotonic merge of a
 * save over the stored state, the in-memory store's atomic first state and
 * merged saves, and the engine adopting the winner's first state.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  Job,
  type JobState,
  Schedule,
  Scheduler,
  type StateStore,
  Task,
} from "../mod.ts";
import { mergeJobStates } from "../src/store/_merge_state.ts";
import { withDefinition } from "../src/store/job_state.ts";
import { withFakeClock } from "./_fake_time.ts";
import { recordEvents, settle, T0 } from "./_engine_helpers.ts";

const at = (s: number) => new Date(T0 + s * 1000);

function state(fields: Partial<JobState>): JobState {
  return {
    jobId: "merge",
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: null,
    lastError: null,
    ...fields,
  };
}

Deno.test("merge: nothing stored keeps the incoming state", () => {
  const incoming = state({ triggerCount: 2, nextRunAt: at(3) });
  assert.deepEqual(mergeJobStates(undefined, incoming), incoming);
});

Deno.test("merge: a stale writer never moves the cursor, the instants or the error back", () => {
  const stored = state({
    triggerCount: 40,
    nextRunAt: at(41),
    lastRunAt: at(39),
    lastSuccessAt: at(39.5),
    lastError: null,
  });
  const stale = state({
    triggerCount: 3,
    nextRunAt: at(4),
    lastRunAt: at(2),
    lastSuccessAt: null,
    lastError: "old failure",
  });
  assert.deepEqual(mergeJobStates(stored, stale), stored);
});

Deno.test("merge: each field takes the furthest side; lastError follows the latest run", () => {
  const stored = state({
    triggerCount: 5,
    nextRunAt: at(6),
    lastRunAt: at(2),
    lastSuccessAt: at(2.5),
  });
  const incoming = state({
    triggerCount: 4, // behind on the cursor...
    nextRunAt: at(5),
    lastRunAt: at(4), // ...but ahead on the runs
    lastSuccessAt: null,
    lastError: "boom",
  });
  assert.deepEqual(
    mergeJobStates(stored, incoming),
    state({
      triggerCount: 5,
      nextRunAt: at(6),
      lastRunAt: at(4),
      lastSuccessAt: at(2.5),
      lastError: "boom",
    }),
  );
});

Deno.test("merge: with equal counts the incoming next run wins (repair, lowered maxRuns)", () => {
  const terminal = state({ triggerCount: 3, nextRunAt: null });
  const repaired = state({ triggerCount: 3, nextRunAt: at(10) });
  assert.deepEqual(mergeJobStates(terminal, repaired), repaired);
  assert.deepEqual(mergeJobStates(repaired, terminal), terminal);
});

Deno.test("InMemoryStateStore: a save never moves the stored state back; delete then save starts over", async () => {
  const store = new InMemoryStateStore();
  await store.save(
    state({ triggerCount: 7, nextRunAt: at(8), lastRunAt: at(6) }),
  );
  await store.save(
    state({ triggerCount: 2, nextRunAt: at(3), lastRunAt: at(1) }),
  );
  const kept = await store.load("merge");
  assert.equal(kept?.triggerCount, 7);
  assert.deepEqual(kept?.lastRunAt, at(6));
  await store.delete("merge");
  await store.save(state({ triggerCount: 2 }));
  assert.equal((await store.load("merge"))?.triggerCount, 2);
});

Deno.test("InMemoryStateStore.createIfAbsent stores once and hands back the existing state", async () => {
  const store = new InMemoryStateStore();
  assert.equal(
    await store.createIfAbsent(state({ nextRunAt: at(1) })),
    undefined,
  );
  const existing = await store.createIfAbsent(state({ nextRunAt: at(9) }));
  assert.deepEqual(existing, state({ nextRunAt: at(1) }));
  existing!.triggerCount = 99; // a copy
  assert.equal((await store.load("merge"))?.triggerCount, 0);
});

/** A slow store: a load reads when called and answers on `release()`, so
 * instances that start together all see no state. */
class GatedLoads extends InMemoryStateStore {
  #waiting: (() => void)[] = [];
  override async load(jobId: string) {
    const snapshot = await super.load(jobId);
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    return snapshot;
  }
  /** Answers the oldest pending load. */
  release(): void {
    this.#waiting.shift()?.();
  }
  get waiting(): number {
    return this.#waiting.length;
  }
}

Deno.test("engine: two instances starting together on one store share the winner's first state (one grid)", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new GatedLoads();
    const ran: number[] = [];
    const job = Job.withoutDeps(
      "together",
      Schedule.interval(200),
      Task.fromSync(({ run }) => void ran.push(run.scheduledAt.getTime())),
    ).withMaxRuns(3);
    const first = new Scheduler({}, store);
    const second = new Scheduler({}, store);
    const firstEvents = recordEvents(first);
    const secondEvents = recordEvents(second);
    const a = first.run(job);
    const b = second.run(job);
    await clock.tickAsync(0);
    assert.equal(store.waiting, 2, "both loads saw no state");
    store.release(); // the first computes its grid from T0...
    await clock.tickAsync(5);
    store.release(); // ...the second from T0 + 5: another grid
    await clock.tickAsync(0);
    await settle(clock, Promise.all([a, b]));
    const loaded = [firstEvents, secondEvents].map((events) =>
      events.find((event) => event.type === "state-loaded")
    );
    assert.deepEqual(
      loaded.map((event) => event?.type === "state-loaded" && event.source),
      ["new", "restored"],
    );
    const nextRuns = loaded.map((event) =>
      event?.type === "state-loaded" ? event.nextRunAt?.getTime() : undefined
    );
    assert.equal(nextRuns[0], T0 + 200);
    assert.equal(nextRuns[1], T0 + 200, "the second adopted the first's grid");
    // Without a guard both run each occurrence, but on one grid only.
    assert.deepEqual(
      [...new Set(ran)].sort(),
      [T0 + 200, T0 + 400, T0 + 600],
    );
  });
});

Deno.test("engine: a store without createIfAbsent still gets load then save", async () => {
  const calls: string[] = [];
  const inner = new InMemoryStateStore();
  const plain: StateStore = {
    load: (jobId) => (calls.push("load"), inner.load(jobId)),
    save: (s) => (calls.push("save"), inner.save(s)),
    delete: (jobId) => (calls.push("delete"), inner.delete(jobId)),
  };
  const job = Job.withoutDeps(
    "plain",
    Schedule.atTimes([]),
    Task.fromSync(() => {}),
  );
  await new Scheduler({}, plain).run(job);
  assert.deepEqual(calls, ["load", "save"]);
});

Deno.test("merge: the definition fingerprint goes with the winning cursor, on every store", async () => {
  const newer = withDefinition(
    state({ triggerCount: 8, nextRunAt: at(480) }),
    "A",
  );
  const stale = withDefinition(
    state({ triggerCount: 6, nextRunAt: at(600) }),
    "B",
  );
  const merged = mergeJobStates(newer, stale);
  assert.equal(merged.triggerCount, 8);
  assert.deepEqual(merged.nextRunAt, at(480));
  assert.equal(merged.definition, "A", "the stale writer's fingerprint loses");
  const ahead = withDefinition(
    state({ triggerCount: 9, nextRunAt: at(540) }),
    "B",
  );
  assert.equal(mergeJobStates(newer, ahead).definition, "B");
  const tie = withDefinition(
    state({ triggerCount: 8, nextRunAt: at(500) }),
    "B",
  );
  assert.equal(
    mergeJobStates(newer, tie).definition,
    "B",
    "a tie: the writer's",
  );
  assert.equal(
    mergeJobStates(newer, state({ triggerCount: 8 })).definition,
    "A",
    "a writer without one keeps the stored one",
  );
  const store = new InMemoryStateStore();
  await store.save(newer);
  await store.save(stale);
  const loaded = (await store.load("merge"))!;
  assert.equal(loaded.triggerCount, 8);
  assert.equal(loaded.definition, "A");
});

Deno.test("merge: on an equal lastRunAt the incoming lastError wins (the later save of the same run: a retry's success clears the error, a failure sets it)", () => {
  const failed = state({
    triggerCount: 4,
    lastRunAt: at(4),
    lastError: "boom",
  });
  const succeeded = state({
    triggerCount: 4,
    lastRunAt: at(4),
    lastSuccessAt: at(4.5),
    lastError: null,
  });
  assert.equal(mergeJobStates(failed, succeeded).lastError, null);
  assert.equal(mergeJobStates(succeeded, failed).lastError, "boom");
  // Only a strictly later stored run keeps the stored error.
  const later = state({ triggerCount: 4, lastRunAt: at(5), lastError: "late" });
  assert.equal(mergeJobStates(later, succeeded).lastError, "late");
});
