/**
 * `ResilientStateStore`, as a unit and under a `Scheduler`: it serves from
 * its mirror during an outage, probes at most once per interval, writes
 * back on recovery, and dispatches `store-degraded` and `store-recovered`
 * once per outage.
 */
import assert from "node:assert/strict";
import {
  InvalidJobError,
  Job,
  type JobState,
  ResilientStateStore,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  type StateStore,
  StoreError,
  type StoreEventDetail,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { recordEvents, settle, T0 } from "./_engine_helpers.ts";

// ---------------------------------------------------------------------------
// Fixture: a scripted primary store
// ---------------------------------------------------------------------------

type Op = "load" | "save" | "delete";

/**
 * One scripted result of a primary call. `before` is awaited first (to hold a
 * call open); then `error` is thrown when present; else a load returns
 * `value` when the key is present; else the call behaves like an in-memory
 * store.
 */
interface Outcome {
  readonly before?: Promise<unknown>;
  readonly error?: unknown;
  readonly value?: JobState | undefined;
}

function ok(): Outcome {
  return {};
}

function okValue(value: JobState | undefined): Outcome {
  return { value };
}

function connectionError(message: string): StoreError {
  return new StoreError(message, { kind: "connection" });
}

function conn(message: string): Outcome {
  return { error: connectionError(message) };
}

function dataErr(message: string): Outcome {
  return { error: new StoreError(message, { kind: "data" }) };
}

function thrown(error: unknown): Outcome {
  return { error };
}

function gated(before: Promise<unknown>, outcome: Outcome = ok()): Outcome {
  return { ...outcome, before };
}

interface CallRecord {
  readonly op: Op;
  readonly jobId: string;
  /** `Date.now()` when the call was made. */
  readonly at: number;
  /** Whether it succeeded (set once it settles). */
  ok?: boolean;
}

function copy(state: JobState): JobState {
  return structuredClone(state);
}

/**
 * A primary store whose results can be scripted per call and per operation.
 * With nothing scripted it fails with a connection error while `down` is set,
 * and otherwise behaves like an in-memory store (copying in and out).
 */
class ScriptedPrimary implements StateStore {
  readonly contents = new Map<string, JobState>();
  readonly calls: Record<Op, number> = { load: 0, save: 0, delete: 0 };
  readonly log: CallRecord[] = [];
  /** Copies of the states that saves stored successfully, in order. */
  readonly saved: JobState[] = [];
  readonly #script: Record<Op, Outcome[]> = { load: [], save: [], delete: [] };
  /** When set, unscripted calls throw a connection error with this message. */
  down: string | undefined;
  inFlight = 0;
  peakInFlight = 0;

  script(op: Op, ...outcomes: Outcome[]): this {
    this.#script[op].push(...outcomes);
    return this;
  }

  scripted(op: Op): number {
    return this.#script[op].length;
  }

  get totalCalls(): number {
    return this.calls.load + this.calls.save + this.calls.delete;
  }

  /** Puts a state in place without counting a call. */
  seed(state: JobState): void {
    this.contents.set(state.jobId, copy(state));
  }

  load(jobId: string): Promise<JobState | undefined> {
    return this.#perform("load", jobId, (outcome) => {
      if (outcome !== undefined && "value" in outcome) {
        return outcome.value === undefined ? undefined : copy(outcome.value);
      }
      const state = this.contents.get(jobId);
      return state === undefined ? undefined : copy(state);
    });
  }

  save(state: JobState): Promise<void> {
    return this.#perform("save", state.jobId, () => {
      this.contents.set(state.jobId, copy(state));
      this.saved.push(copy(state));
    });
  }

  delete(jobId: string): Promise<void> {
    return this.#perform("delete", jobId, () => {
      this.contents.delete(jobId);
    });
  }

  async #perform<T>(
    op: Op,
    jobId: string,
    normal: (outcome: Outcome | undefined) => T,
  ): Promise<T> {
    this.calls[op]++;
    const record: CallRecord = { op, jobId, at: Date.now() };
    this.log.push(record);
    const outcome = this.#script[op].shift();
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      if (outcome?.before !== undefined) await outcome.before;
      if (outcome !== undefined && "error" in outcome) throw outcome.error;
      if (outcome === undefined && this.down !== undefined) {
        throw connectionError(this.down);
      }
      const result = normal(outcome);
      record.ok = true;
      return result;
    } catch (error) {
      record.ok = false;
      throw error;
    } finally {
      this.inFlight--;
    }
  }
}

/** A scripted primary that also has a `close()`. */
class ClosablePrimary extends ScriptedPrimary {
  closeCalls = 0;
  /** Calls still open when close() was called. */
  inFlightAtClose: number[] = [];

  close(): Promise<void> {
    this.closeCalls++;
    this.inFlightAtClose.push(this.inFlight);
    return Promise.resolve();
  }
}

/** A promise with its resolve function. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function state(
  jobId: string,
  triggerCount: number,
  nextRunAt: number | null = T0 + 60_000,
): JobState {
  return {
    jobId,
    triggerCount,
    lastRunAt: triggerCount > 0 ? new Date(T0 - 1000) : null,
    lastSuccessAt: triggerCount > 0 ? new Date(T0 - 900) : null,
    nextRunAt: nextRunAt === null ? null : new Date(nextRunAt),
    lastError: null,
  };
}

interface StoreEventRecord {
  readonly event: Event;
  readonly detail: StoreEventDetail;
}

/** Records the `store-degraded` / `store-recovered` events of a store. */
function recordStoreEvents(store: EventTarget): StoreEventRecord[] {
  const events: StoreEventRecord[] = [];
  for (const type of ["store-degraded", "store-recovered"]) {
    store.addEventListener(type, (event) => {
      events.push({ event, detail: (event as CustomEvent).detail });
    });
  }
  return events;
}

function ofType(events: StoreEventRecord[], type: string): StoreEventDetail[] {
  return events.filter((e) => e.detail.type === type).map((e) => e.detail);
}

/** Advances the fake clock to exactly `at`. */
async function advanceTo(
  clock: { tickAsync(ms: number): Promise<number> },
  at: number,
): Promise<void> {
  const ms = at - Date.now();
  assert.ok(ms >= 0, `cannot go back in time to ${at}`);
  await clock.tickAsync(ms);
}

function isStoreError(kind: string, includes?: string) {
  return (error: unknown): boolean => {
    assert.ok(
      error instanceof StoreError,
      `expected a StoreError, got ${error}`,
    );
    assert.equal(error.kind, kind);
    if (includes !== undefined) {
      assert.ok(
        error.message.includes(includes),
        `message ${JSON.stringify(error.message)} lacks ${includes}`,
      );
    }
    return true;
  };
}

function isInvalidOther(error: unknown): boolean {
  assert.ok(
    error instanceof InvalidJobError,
    `expected an InvalidJobError, got ${error}`,
  );
  assert.equal(error.kind, "other");
  return true;
}

function onceJob(jobId: string, onRun: () => void = () => {}): Job<undefined> {
  return Job.withoutDeps(jobId, Schedule.interval(1), Task.fromSync(onRun))
    .withMaxRuns(1);
}

// ---------------------------------------------------------------------------
// 1-3. Under a scheduler (port of the Rust suite)
// ---------------------------------------------------------------------------

Deno.test("scheduler run survives a connection error on save, and the primary is left alone until probeIntervalMs has passed", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary().script(
      "save",
      conn("connection reset"),
    );
    const store = new ResilientStateStore(primary, { probeIntervalMs: 60_000 });
    let invocations = 0;
    const job = onceJob("survivor", () => void invocations++);

    const report = await settle(clock, new Scheduler({}, store).run(job));

    assert.equal(invocations, 1);
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, "success");
    assert.equal(report.stopReason, "terminal");
    assert.equal(report.state.triggerCount, 1);
    assert.equal(primary.calls.load, 1);
    assert.equal(
      primary.calls.save,
      1,
      "no primary save after the outage began",
    );
    assert.equal(primary.calls.delete, 0);
    assert.equal(store.degraded, true);
    assert.equal(primary.contents.has("survivor"), false);

    // Just before the probe interval: still served from the mirror.
    await advanceTo(clock, T0 + 59_999);
    assert.deepEqual(await store.load("survivor"), report.state);
    await store.save({ ...report.state, lastError: "x" });
    await store.save(report.state);
    assert.equal(primary.totalCalls, 2, "no probe before probeIntervalMs");
    assert.equal(store.degraded, true);

    // Once it has passed, the next call probes, writes back and recovers.
    await advanceTo(clock, T0 + 60_000);
    assert.deepEqual(await store.load("survivor"), report.state);
    assert.equal(primary.calls.save, 2, "one write-back");
    assert.equal(primary.calls.load, 2);
    assert.equal(store.degraded, false);
    assert.deepEqual(primary.contents.get("survivor"), report.state);
  });
});

Deno.test("observer, scheduler listeners and the store itself see exactly one store-degraded for a save connection error", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary().script(
      "save",
      conn("connection reset"),
    );
    const store = new ResilientStateStore(primary, { probeIntervalMs: 60_000 });
    const storeEvents = recordStoreEvents(store);
    const observed: SchedulerEvent[] = [];
    const scheduler = new Scheduler({}, store, {
      observer: { onEvent: (event) => observed.push(event) },
    });
    const listened = recordEvents(scheduler);

    await settle(clock, scheduler.run(onceJob("observed-job")));

    for (
      const [name, events] of [["observer", observed], [
        "listener",
        listened,
      ]] as const
    ) {
      const degraded = events.filter((e) => e.type === "store-degraded");
      assert.equal(degraded.length, 1, `${name}: one store-degraded`);
      const event = degraded[0];
      assert.ok(event.type === "store-degraded");
      assert.equal(event.jobId, "observed-job", name);
      assert.equal(event.operation, "save", name);
      assert.ok(
        event.error.includes("connection reset"),
        `${name}: ${event.error}`,
      );
      assert.equal(
        events.filter((e) => e.type === "store-recovered").length,
        0,
      );
      const stoppedAt = events.findIndex((e) => e.type === "scheduler-stopped");
      assert.ok(
        stoppedAt > events.indexOf(event),
        `${name}: before scheduler-stopped`,
      );
    }

    assert.equal(storeEvents.length, 1, "the store dispatched one event");
    const { event, detail } = storeEvents[0];
    assert.ok(event instanceof CustomEvent, "a CustomEvent");
    assert.equal(event.type, "store-degraded");
    assert.equal(detail.type, "store-degraded");
    assert.equal(detail.operation, "save");
    assert.equal(detail.jobId, "observed-job");
    assert.equal(typeof detail.error, "string");
    assert.ok(detail.error!.includes("connection reset"), detail.error);
    assert.equal(detail.errorKind, "connection");
    assert.deepEqual(
      Object.keys(detail).sort(),
      ["error", "errorKind", "jobId", "operation", "type"],
    );
  });
});

Deno.test("a data error on load rejects run() with StoreError kind data; the store is not degraded; scheduler-stopped reason failed", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary().script(
      "load",
      dataErr("invalid payload"),
    );
    const store = new ResilientStateStore(primary);
    const storeEvents = recordStoreEvents(store);
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    let invocations = 0;

    await assert.rejects(
      settle(
        clock,
        scheduler.run(onceJob("bad-data", () => void invocations++)),
      ),
      isStoreError("data", "invalid payload"),
    );

    assert.equal(invocations, 0);
    assert.equal(store.degraded, false);
    assert.equal(storeEvents.length, 0);
    assert.equal(primary.calls.load, 1);
    assert.equal(primary.calls.save, 0);
    assert.equal(events.filter((e) => e.type === "store-degraded").length, 0);
    const stopped = events.filter((e) => e.type === "scheduler-stopped");
    assert.equal(stopped.length, 1);
    assert.ok(stopped[0].type === "scheduler-stopped");
    assert.equal(stopped[0].reason, "failed");
    assert.ok(stopped[0].error?.includes("invalid payload"), stopped[0].error);
  });
});

Deno.test("a data error on a save during a run rejects run() with kind data and does not degrade", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary().script(
      "save",
      ok(),
      dataErr("cannot encode state"),
    );
    const store = new ResilientStateStore(primary);
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);

    await assert.rejects(
      settle(clock, scheduler.run(onceJob("bad-save"))),
      isStoreError("data", "cannot encode state"),
    );
    assert.equal(store.degraded, false);
    assert.equal(events.filter((e) => e.type === "store-degraded").length, 0);
    const stopped = events.at(-1)!;
    assert.ok(stopped.type === "scheduler-stopped");
    assert.equal(stopped.reason, "failed");
  });
});

Deno.test("a malformed state from the primary is reported as StoreError kind data through the resilient store, too", async () => {
  // Persisted data with wrong field types is kind `data`, and
  // run() rejects only with SchedulerErrors of the documented kinds.
  await withFakeClock(T0, async (clock) => {
    const malformed = {
      ...state("malformed", 1),
      lastRunAt: "2026-04-03T01:00:00Z",
    } as unknown as JobState;
    const direct = new ScriptedPrimary().script("load", okValue(malformed));
    await assert.rejects(
      settle(clock, new Scheduler({}, direct).run(onceJob("malformed"))),
      isStoreError("data"),
      "baseline: the primary alone",
    );

    const primary = new ScriptedPrimary().script("load", okValue(malformed));
    const store = new ResilientStateStore(primary);
    await assert.rejects(
      settle(clock, new Scheduler({}, store).run(onceJob("malformed"))),
      isStoreError("data"),
      "wrapped in a ResilientStateStore",
    );
    assert.equal(store.degraded, false);
  });
});

// ---------------------------------------------------------------------------
// 4. The mirror
// ---------------------------------------------------------------------------

Deno.test("after a load connection error, loads are served from the mirror and the primary is not asked again", async () => {
  await withFakeClock(T0, async () => {
    const s = state("mirror-job", 3);
    const other = { ...state("mirror-job", 99), lastError: "other" };
    const primary = new ScriptedPrimary().script(
      "load",
      okValue(s),
      conn("timeout"),
      okValue(other),
    );
    const store = new ResilientStateStore(primary);
    const storeEvents = recordStoreEvents(store);

    const first = await store.load("mirror-job");
    const second = await store.load("mirror-job");
    const third = await store.load("mirror-job");

    assert.deepEqual(first, s);
    assert.deepEqual(second, s);
    assert.deepEqual(third, s);
    assert.equal(primary.calls.load, 2, "the third load came from the mirror");
    assert.equal(primary.scripted("load"), 1, "the third outcome is unused");
    assert.equal(store.degraded, true);
    assert.deepEqual(storeEvents.map((e) => e.detail), [{
      type: "store-degraded",
      operation: "load",
      error: "timeout",
      errorKind: "connection",
      jobId: "mirror-job",
    }]);
  });
});

Deno.test("a load that degrades with nothing mirrored returns undefined; the mirror knows saved and deleted states", async () => {
  await withFakeClock(T0, async () => {
    const primary = new ScriptedPrimary();
    primary.seed(state("unknown-to-mirror", 5));
    const store = new ResilientStateStore(primary);
    await store.save(state("saved", 1));
    await store.save(state("deleted", 1));
    await store.delete("deleted");
    primary.down = "connection refused";

    assert.equal(await store.load("unknown-to-mirror"), undefined);
    assert.equal(store.degraded, true);
    assert.deepEqual(await store.load("saved"), state("saved", 1));
    assert.equal(await store.load("deleted"), undefined);
    assert.equal(primary.calls.load, 1);
  });
});

// ---------------------------------------------------------------------------
// 5. Recovery
// ---------------------------------------------------------------------------

Deno.test("recovery writes every state changed during the outage back to the primary, deletes included, and emits store-recovered once", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 1000 });
    const storeEvents = recordStoreEvents(store);
    await store.save(state("a", 1));
    await store.save(state("b", 1));
    await store.save(state("untouched", 1));

    primary.down = "connection refused";
    await store.save(state("a", 2));
    assert.equal(store.degraded, true);
    await store.delete("b");
    await store.save(state("c", 1));
    assert.deepEqual(await store.load("a"), state("a", 2));
    assert.equal(await store.load("b"), undefined);
    assert.deepEqual(await store.load("c"), state("c", 1));
    const callsDuringOutage = primary.totalCalls;
    assert.equal(callsDuringOutage, 4, "3 saves, then the one failed save");
    assert.deepEqual(primary.contents.get("a"), state("a", 1));
    assert.deepEqual(primary.contents.get("b"), state("b", 1));
    assert.equal(primary.contents.has("c"), false);

    primary.down = undefined;
    await clock.tickAsync(1000);
    assert.equal(await store.load("d"), undefined);

    assert.equal(store.degraded, false);
    assert.deepEqual(primary.contents.get("a"), state("a", 2));
    assert.equal(
      primary.contents.has("b"),
      false,
      "the delete was written back",
    );
    assert.deepEqual(primary.contents.get("c"), state("c", 1));
    assert.deepEqual(primary.contents.get("untouched"), state("untouched", 1));
    assert.equal(primary.contents.size, 3);
    const writtenBack = primary.log.slice(callsDuringOutage);
    assert.deepEqual(
      writtenBack.filter((c) => c.op !== "load").map((c) =>
        `${c.op} ${c.jobId}`
      )
        .sort(),
      ["delete b", "save a", "save c"],
      "exactly the changed states, once each",
    );
    assert.deepEqual(ofType(storeEvents, "store-degraded").length, 1);
    assert.deepEqual(ofType(storeEvents, "store-recovered"), [{
      type: "store-recovered",
      operation: "load",
      jobId: "d",
    }]);

    // Healthy again: calls go straight to the primary, nothing else is emitted.
    await store.save(state("a", 3));
    assert.deepEqual(primary.contents.get("a"), state("a", 3));
    assert.equal(storeEvents.length, 2);
    const loadsBefore = primary.calls.load;
    assert.deepEqual(await store.load("a"), state("a", 3));
    assert.equal(
      primary.calls.load,
      loadsBefore + 1,
      "loads go to the primary",
    );
  });
});

Deno.test("a scheduler running through an outage keeps running, re-emits store-degraded and store-recovered with its jobId, and the primary ends with the final state", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 1500 });
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    setTimeout(() => (primary.down = "connection reset by peer"), 500);
    setTimeout(() => (primary.down = undefined), 2200);
    const runs: number[] = [];
    const job = Job.withoutDeps(
      "through-outage",
      Schedule.interval(1000),
      Task.fromSync(({ run }) => void runs.push(run.scheduledAt.getTime())),
    ).withMaxRuns(4);

    const report = await settle(clock, scheduler.run(job));

    assert.deepEqual(runs, [T0 + 1000, T0 + 2000, T0 + 3000, T0 + 4000]);
    assert.equal(report.history.length, 4);
    assert.ok(report.history.every((r) => r.status === "success"));
    assert.equal(report.stopReason, "terminal");
    assert.equal(store.degraded, false);
    assert.deepEqual(primary.contents.get("through-outage"), report.state);

    const storeEvents = events.filter((e) =>
      e.type === "store-degraded" || e.type === "store-recovered"
    );
    assert.equal(storeEvents.length, 2);
    const [degraded, recovered] = storeEvents;
    assert.ok(degraded.type === "store-degraded");
    assert.equal(degraded.jobId, "through-outage");
    assert.equal(degraded.operation, "save");
    assert.ok(
      degraded.error.includes("connection reset by peer"),
      degraded.error,
    );
    assert.ok(recovered.type === "store-recovered");
    assert.equal(recovered.jobId, "through-outage");
    assert.equal(recovered.operation, "save");

    // The outage began at the save at T0+1000; the next primary call is the
    // probe at T0+3000 (the first call at least 1500 ms later).
    const failed = primary.log.filter((c) => c.ok === false);
    assert.deepEqual(failed.map((c) => c.at), [T0 + 1000]);
    assert.deepEqual(
      primary.log.filter((c) => c.at > T0 + 1000 && c.at < T0 + 3000),
      [],
      "no primary call while degraded and before the probe interval",
    );
    assert.ok(primary.log.some((c) => c.at === T0 + 3000 && c.ok === true));
  });
});

Deno.test("a running scheduler re-emits store events caused by another job's call with its own jobId", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 200 });
    const storeEvents = recordStoreEvents(store);
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    const outside: Promise<unknown>[] = [];
    setTimeout(() => {
      primary.down = "connection lost";
      outside.push(store.load("someone-else"));
    }, 500);
    setTimeout(() => {
      primary.down = undefined;
      outside.push(store.load("someone-else"));
    }, 800);
    const job = Job.withoutDeps(
      "runner",
      Schedule.interval(1000),
      Task.fromSync(() => {}),
    ).withMaxRuns(1);

    const report = await settle(clock, scheduler.run(job));
    await Promise.all(outside);

    assert.equal(report.history.length, 1);
    assert.deepEqual(
      storeEvents.map((e) => [e.detail.type, e.detail.jobId]),
      [["store-degraded", "someone-else"], ["store-recovered", "someone-else"]],
    );
    const forwarded = events.filter((e) =>
      e.type === "store-degraded" || e.type === "store-recovered"
    );
    assert.deepEqual(forwarded.map((e) => [e.type, e.jobId]), [
      ["store-degraded", "runner"],
      ["store-recovered", "runner"],
    ]);
    assert.equal(store.degraded, false);
    assert.deepEqual(primary.contents.get("runner"), report.state);
  });
});

Deno.test("a job whose first load hits the outage starts new, and that state is written back on recovery", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    primary.down = "ECONNREFUSED";
    const store = new ResilientStateStore(primary, { probeIntervalMs: 1500 });
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    setTimeout(() => (primary.down = undefined), 1200);
    const job = Job.withoutDeps(
      "starts-degraded",
      Schedule.interval(1000),
      Task.fromSync(() => {}),
    ).withMaxRuns(2);

    const report = await settle(clock, scheduler.run(job));

    assert.equal(report.history.length, 2);
    const loaded = events.find((e) => e.type === "state-loaded");
    assert.ok(loaded?.type === "state-loaded");
    assert.equal(loaded.source, "new");
    const degraded = events.filter((e) => e.type === "store-degraded");
    assert.equal(degraded.length, 1);
    assert.ok(degraded[0].type === "store-degraded");
    assert.equal(degraded[0].operation, "load");
    assert.equal(events.filter((e) => e.type === "store-recovered").length, 1);
    assert.equal(store.degraded, false);
    assert.deepEqual(primary.contents.get("starts-degraded"), report.state);
  });
});

// ---------------------------------------------------------------------------
// 6. Probing
// ---------------------------------------------------------------------------

Deno.test("while degraded the primary is probed at most once per probeIntervalMs; a failed probe emits no second store-degraded; a new outage after recovery does", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    primary.down = "connection refused";
    const store = new ResilientStateStore(primary, { probeIntervalMs: 1000 });
    const storeEvents = recordStoreEvents(store);

    await store.save(state("job", 1));
    assert.equal(store.degraded, true);
    assert.equal(primary.totalCalls, 1);
    assert.equal(storeEvents.length, 1);

    // Repeated calls within the interval do not touch the primary.
    await clock.tickAsync(500);
    await store.save(state("job", 2));
    assert.deepEqual(await store.load("job"), state("job", 2));
    await store.delete("other");
    await advanceTo(clock, T0 + 999);
    assert.equal(await store.load("other"), undefined);
    assert.equal(primary.totalCalls, 1, "no primary call within the interval");

    // One call after the interval probes once; the primary is still down.
    await advanceTo(clock, T0 + 1000);
    assert.deepEqual(await store.load("job"), state("job", 2));
    assert.equal(primary.totalCalls, 2, "exactly one probe");
    assert.equal(store.degraded, true);
    assert.equal(
      storeEvents.length,
      1,
      "no second store-degraded in one outage",
    );

    // The interval restarts at the failed probe.
    await advanceTo(clock, T0 + 1999);
    await store.save(state("job", 3));
    await store.load("job");
    assert.equal(primary.totalCalls, 2);
    await advanceTo(clock, T0 + 2000);
    await store.load("job");
    assert.equal(primary.totalCalls, 3, "second probe");
    assert.equal(storeEvents.length, 1);

    // A later successful probe recovers.
    primary.down = undefined;
    await advanceTo(clock, T0 + 3000);
    await store.save(state("job", 4));
    assert.equal(store.degraded, false);
    assert.deepEqual(primary.contents.get("job"), state("job", 4));
    assert.deepEqual(ofType(storeEvents, "store-recovered"), [{
      type: "store-recovered",
      operation: "save",
      jobId: "job",
    }]);

    // A new outage after recovery emits store-degraded again.
    primary.down = "timeout again";
    await clock.tickAsync(10);
    await store.save(state("job", 5));
    assert.equal(store.degraded, true);
    const degraded = ofType(storeEvents, "store-degraded");
    assert.equal(degraded.length, 2);
    assert.equal(degraded[0].error, "connection refused");
    assert.equal(degraded[1].error, "timeout again");
    assert.equal(degraded[1].operation, "save");
    assert.deepEqual(
      storeEvents.map((e) => e.detail.type),
      ["store-degraded", "store-recovered", "store-degraded"],
    );
  });
});

Deno.test("probeIntervalMs defaults to 5000", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    primary.down = "down";
    const store = new ResilientStateStore(primary);
    await store.save(state("job", 1));
    primary.down = undefined;
    await advanceTo(clock, T0 + 4999);
    await store.load("job");
    assert.equal(primary.totalCalls, 1);
    assert.equal(store.degraded, true);
    await advanceTo(clock, T0 + 5000);
    await store.load("job");
    assert.equal(store.degraded, false);
    assert.deepEqual(primary.contents.get("job"), state("job", 1));
  });
});

Deno.test("probeIntervalMs 0 probes on every call while degraded", async () => {
  await withFakeClock(T0, async () => {
    const primary = new ScriptedPrimary();
    primary.down = "down";
    const store = new ResilientStateStore(primary, { probeIntervalMs: 0 });
    const storeEvents = recordStoreEvents(store);
    await store.save(state("job", 1));
    await store.load("job");
    await store.load("job");
    assert.equal(primary.totalCalls, 3);
    assert.equal(storeEvents.length, 1);
    primary.down = undefined;
    await store.load("job");
    assert.equal(store.degraded, false);
    assert.deepEqual(primary.contents.get("job"), state("job", 1));
  });
});

// ---------------------------------------------------------------------------
// 7. Data errors are never masked
// ---------------------------------------------------------------------------

Deno.test("a data error on save while healthy rejects, does not degrade, and is not recorded in the mirror", async () => {
  await withFakeClock(T0, async () => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary);
    const storeEvents = recordStoreEvents(store);
    await store.save(state("job", 1));
    primary.script("save", dataErr("value too large"));
    await assert.rejects(
      store.save(state("job", 2)),
      isStoreError("data", "value too large"),
    );
    assert.equal(store.degraded, false);
    assert.equal(storeEvents.length, 0);

    primary.down = "down";
    assert.deepEqual(
      await store.load("job"),
      state("job", 1),
      "the mirror holds the last state written to the primary",
    );
  });
});

Deno.test("a write-back the primary refuses (data error) is reported to that job only, and does not block recovery", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 1000 });
    const storeEvents = recordStoreEvents(store);
    await store.save(state("a", 1));
    primary.down = "down";
    await store.save(state("a", 2));
    await store.save(state("b", 5));
    assert.equal(store.degraded, true);

    primary.down = undefined;
    primary.script("save", dataErr("value too large for job a"));
    await clock.tickAsync(1000);
    // Another job's call is not failed by job a's refused state.
    assert.equal(await store.load("other"), undefined);
    assert.equal(store.degraded, false, "recovered despite the refusal");
    assert.equal(ofType(storeEvents, "store-recovered").length, 1);
    assert.deepEqual(
      primary.contents.get("b"),
      state("b", 5),
      "b written back",
    );
    assert.deepEqual(primary.contents.get("a"), state("a", 1), "a was refused");

    // Job a hears about it on its next call, once; it is not masked.
    await assert.rejects(
      store.load("a"),
      isStoreError("data", "value too large for job a"),
    );
    assert.deepEqual(await store.load("a"), state("a", 1));
  });
});

Deno.test("while degraded, a data error of the probed call itself rejects that call", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    primary.down = "down";
    const store = new ResilientStateStore(primary, { probeIntervalMs: 1000 });
    await store.load("b");
    assert.equal(store.degraded, true);
    primary.down = undefined;
    primary.script("load", dataErr("bad JSON for job b"));
    await clock.tickAsync(1000);
    await assert.rejects(
      store.load("b"),
      isStoreError("data", "bad JSON for job b"),
    );
  });
});

// ---------------------------------------------------------------------------
// 8. Error classification
// ---------------------------------------------------------------------------

Deno.test("by default only a StoreError of kind connection is masked: plain Errors and other kinds propagate unchanged", async () => {
  await withFakeClock(T0, async () => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary);
    const storeEvents = recordStoreEvents(store);
    const plain = new Error("connect ECONNREFUSED 127.0.0.1:6379");
    const unknown = new StoreError("weird reply", { kind: "unknown" });
    const typeError = new TypeError("x is not a function");
    primary.script("save", thrown(plain), thrown(unknown));
    primary.script("load", thrown(typeError));
    primary.script("delete", thrown("a string"));

    await assert.rejects(store.save(state("job", 1)), (e) => e === plain);
    await assert.rejects(store.save(state("job", 1)), (e) => e === unknown);
    await assert.rejects(store.load("job"), (e) => e === typeError);
    await assert.rejects(store.delete("job"), (e) => e === "a string");
    assert.equal(store.degraded, false);
    assert.equal(storeEvents.length, 0);

    // And a connection-kind StoreError is masked.
    primary.script("save", conn("refused"));
    await store.save(state("job", 1));
    assert.equal(store.degraded, true);
  });
});

Deno.test("a custom isConnectionError classifies a plain Error as connection-class", async () => {
  await withFakeClock(T0, async () => {
    const primary = new ScriptedPrimary();
    const seen: unknown[] = [];
    const store = new ResilientStateStore(primary, {
      isConnectionError(error) {
        seen.push(error);
        return error instanceof Error && error.message.includes("ECONNREFUSED");
      },
    });
    const storeEvents = recordStoreEvents(store);
    const refused = new Error("connect ECONNREFUSED 127.0.0.1:6379");
    const other = new Error("syntax error");
    primary.script("save", thrown(other), thrown(refused));

    await assert.rejects(store.save(state("job", 1)), (e) => e === other);
    assert.equal(store.degraded, false);
    await store.save(state("job", 1));
    assert.equal(store.degraded, true);
    assert.deepEqual(
      seen,
      [other, refused],
      "the predicate got the thrown errors",
    );
    assert.equal(storeEvents.length, 1);
    assert.equal(storeEvents[0].detail.operation, "save");
    assert.ok(storeEvents[0].detail.error?.includes("ECONNREFUSED"));
    assert.deepEqual(await store.load("job"), state("job", 1));
  });
});

// ---------------------------------------------------------------------------
// 9. Copies
// ---------------------------------------------------------------------------

function mutate(target: JobState): void {
  target.triggerCount = 999;
  target.nextRunAt?.setTime(0);
  target.lastRunAt = null;
  target.lastError = "mutated";
}

Deno.test("mutating a loaded state changes neither the mirror nor the primary", async () => {
  await withFakeClock(T0, async () => {
    const original = state("job", 3);
    const primary = new ScriptedPrimary();
    primary.seed(original);
    const store = new ResilientStateStore(primary);

    const loaded = (await store.load("job"))!;
    mutate(loaded);
    assert.deepEqual(primary.contents.get("job"), original);

    primary.down = "down";
    const fromMirror = (await store.load("job"))!;
    assert.equal(store.degraded, true);
    assert.deepEqual(fromMirror, original, "the mirror kept what was read");
    mutate(fromMirror);
    assert.deepEqual(
      await store.load("job"),
      original,
      "the mirror hands out copies",
    );
  });
});

Deno.test("mutating a state after save changes neither the mirror nor what is written back", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 1000 });

    const healthy = state("healthy", 1);
    await store.save(healthy);
    mutate(healthy);
    assert.deepEqual(primary.contents.get("healthy"), state("healthy", 1));

    primary.down = "down";
    assert.deepEqual(await store.load("healthy"), state("healthy", 1));

    const duringOutage = state("outage", 2);
    await store.save(duringOutage);
    mutate(duringOutage);
    assert.deepEqual(await store.load("outage"), state("outage", 2));

    primary.down = undefined;
    await clock.tickAsync(1000);
    await store.load("healthy");
    assert.equal(store.degraded, false);
    assert.deepEqual(primary.contents.get("outage"), state("outage", 2));
  });
});

Deno.test("a state mutated right after save() is called, while the call is still queued, is stored as it was at the call", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    const gate = deferred();
    primary.script("save", gated(gate.promise));
    const store = new ResilientStateStore(primary);

    const first = store.save(state("first", 1));
    const queued = state("queued", 1);
    const second = store.save(queued);
    mutate(queued);
    await clock.tickAsync(0);
    gate.resolve();
    await Promise.all([first, second]);
    assert.deepEqual(primary.contents.get("queued"), state("queued", 1));
  });
});

// ---------------------------------------------------------------------------
// 10. close() and construction
// ---------------------------------------------------------------------------

Deno.test("close() calls the primary's close() once, after pending calls", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ClosablePrimary();
    const gate = deferred();
    primary.script("save", gated(gate.promise));
    const store = new ResilientStateStore(primary);

    const pending = store.save(state("job", 1));
    const closing = store.close();
    await clock.tickAsync(0);
    assert.equal(primary.closeCalls, 0, "waits for the pending save");
    gate.resolve();
    await pending;
    await closing;
    assert.equal(primary.closeCalls, 1);
    assert.deepEqual(primary.inFlightAtClose, [0]);
    assert.deepEqual(primary.contents.get("job"), state("job", 1));
  });
});

Deno.test("close() resolves when the primary has no close()", async () => {
  const primary = new ScriptedPrimary();
  assert.equal("close" in primary, false);
  const store = new ResilientStateStore(primary);
  await store.save(state("job", 1));
  assert.equal(await store.close(), undefined);
  assert.equal(primary.totalCalls, 1);
});

Deno.test("the constructor rejects an invalid probeIntervalMs or primary with InvalidJobError kind other", () => {
  const primary = new ScriptedPrimary();
  for (const probeIntervalMs of [-1, -0.5, NaN, Infinity, -Infinity]) {
    assert.throws(
      () => new ResilientStateStore(primary, { probeIntervalMs }),
      isInvalidOther,
      `probeIntervalMs ${probeIntervalMs}`,
    );
  }
  assert.throws(
    () =>
      new ResilientStateStore(primary, {
        probeIntervalMs: "1000" as unknown as number,
      }),
    isInvalidOther,
  );
  const noop = () => Promise.resolve(undefined);
  const broken: unknown[] = [
    null,
    undefined,
    {},
    { load: noop, save: noop },
    { load: noop, delete: noop },
    { save: noop, delete: noop },
    { load: noop, save: noop, delete: "nope" },
  ];
  for (const candidate of broken) {
    assert.throws(
      () => new ResilientStateStore(candidate as StateStore),
      isInvalidOther,
      `primary ${JSON.stringify(candidate)}`,
    );
  }
  // Valid edge values are accepted.
  assert.equal(
    new ResilientStateStore(primary, { probeIntervalMs: 0 }).degraded,
    false,
  );
  assert.equal(new ResilientStateStore(primary, {}).degraded, false);
  assert.equal(
    new ResilientStateStore(
      { load: noop, save: noop, delete: noop } as StateStore,
    )
      .degraded,
    false,
  );
});

// ---------------------------------------------------------------------------
// 11. Serialization
// ---------------------------------------------------------------------------

Deno.test("concurrent calls during an outage-recovery cycle are serialized: the primary ends with the last save", async () => {
  await withFakeClock(T0, async (clock) => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 1000 });
    const storeEvents = recordStoreEvents(store);
    await store.save(state("job", 0));
    primary.down = "down";
    await store.save(state("job", 1));
    assert.equal(store.degraded, true);

    primary.down = undefined;
    await clock.tickAsync(1000);
    const gate = deferred();
    primary.script("save", gated(gate.promise)); // holds the write-back open
    const calls = [
      store.save(state("job", 2)),
      store.save(state("job", 3)),
      store.load("job"),
      store.save(state("job", 4)),
    ];
    await clock.tickAsync(0);
    assert.equal(primary.inFlight, 1, "one primary call at a time");
    gate.resolve();
    const results = await Promise.all(calls);

    assert.equal(primary.peakInFlight, 1);
    assert.deepEqual(
      results[2],
      state("job", 3),
      "the load saw the saves before it",
    );
    assert.deepEqual(primary.contents.get("job"), state("job", 4));
    assert.deepEqual(primary.saved.map((s) => s.triggerCount), [0, 1, 2, 3, 4]);
    assert.deepEqual(await store.load("job"), state("job", 4));
    assert.equal(store.degraded, false);
    assert.equal(ofType(storeEvents, "store-recovered").length, 1);
  });
});

Deno.test("calls queued behind a save that degrades are served from the mirror in call order", async () => {
  await withFakeClock(T0, async () => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 60_000 });
    const gate = deferred();
    primary.script("save", gated(gate.promise, conn("reset while writing")));
    const calls = [
      store.save(state("job", 1)),
      store.save(state("job", 2)),
      store.load("job"),
      store.delete("job"),
      store.load("job"),
    ];
    gate.resolve();
    const results = await Promise.all(calls);
    assert.equal(
      primary.totalCalls,
      1,
      "only the first call reached the primary",
    );
    assert.deepEqual(results[2], state("job", 2));
    assert.equal(results[4], undefined);
    assert.equal(store.degraded, true);
    assert.equal(primary.peakInFlight, 1);
  });
});

Deno.test("close() makes a last write-back attempt, whatever the probe interval", async () => {
  await withFakeClock(T0, async () => {
    const primary = new ScriptedPrimary();
    const store = new ResilientStateStore(primary, { probeIntervalMs: 60_000 });
    primary.down = "down";
    await store.save(state("late", 7));
    assert.equal(store.degraded, true);
    primary.down = undefined;
    await store.close();
    assert.deepEqual(primary.contents.get("late"), state("late", 7));
  });
});
