/**
 * `scheduler.errors` counts real store and guard failures by their kind,
 * read back through the OpenTelemetry SDK's meter provider: damaged Deno KV
 * guard data (an unreadable counter, an undecodable in-flight record), a
 * store outage the resilient store masks, failed releases, and the error a
 * `run()` rejects with. The events that feed it carry the kind as
 * `errorKind`.
 */
import assert from "node:assert/strict";
import { metrics as otelMetrics } from "@opentelemetry/api";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import {
  DenoKvExecutionGuard,
  ExecutionGuardError,
  InMemoryStateStore,
  Job,
  type JobState,
  ResilientStateStore,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  StoreError,
  Task,
} from "../mod.ts";
import { ATTR, METRIC } from "../src/telemetry/_names.ts";
import { points, Reader } from "./_metric_reader.ts";

const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };
const PREFIX = ["scheduler", "execution-lease"];
const ERROR_EVENTS = [
  "execution-guard-acquire-failed",
  "execution-guard-data-damaged",
  "execution-guard-release-failed",
  "store-degraded",
  "scheduler-stopped",
] as const;

/** Runs a job of `jobId` due twice soon; the error events it emitted. */
async function run(
  scheduler: Scheduler,
  jobId: string,
  delivery: "at-most-once" | "at-least-once" = "at-most-once",
): Promise<SchedulerEvent[]> {
  const seen: SchedulerEvent[] = [];
  for (const type of ERROR_EVENTS) {
    scheduler.addEventListener(type, ({ detail }) => void seen.push(detail));
  }
  const now = Date.now();
  await scheduler.run(
    Job.withoutDeps(
      jobId,
      Schedule.atTimes([now + 20, now + 40]),
      Task.fromSync(() => {}),
    ).withDelivery(delivery),
  ).catch((error) => seen.push({ ...error, type: "rejected" }));
  return seen;
}

/** A primary store whose first save finds the backend unreachable. */
class OutageOnce extends InMemoryStateStore {
  #down = true;
  override save(state: JobState): Promise<void> {
    if (!this.#down) return super.save(state);
    this.#down = false;
    return Promise.reject(
      new StoreError("primary unreachable", {
        kind: "connection",
        operation: "save",
      }),
    );
  }
}

/** A store whose credentials were rotated away. */
class Refused extends InMemoryStateStore {
  override load(): Promise<JobState | undefined> {
    return Promise.reject(
      new StoreError("WRONGPASS", { kind: "auth", operation: "load" }),
    );
  }
  override createIfAbsent(): Promise<JobState | undefined> {
    return this.load();
  }
}

Deno.test("scheduler.errors counts store and guard errors by kind, and the error run() fails with as fatal", async () => {
  const reader = new Reader();
  const provider = new MeterProvider({ readers: [reader] });
  assert.ok(otelMetrics.setGlobalMeterProvider(provider));
  const kv = await Deno.openKv(":memory:");
  try {
    // Damaged guard data: an unreadable fencing counter, and an in-flight
    // record that does not decode.
    await kv.set([...PREFIX, "fence", "damaged"], "seven");
    await kv.set([...PREFIX, "in-flight", "damaged", Date.now() - 60_000], {
      holder: 42,
    });
    const damaged = await run(
      Scheduler.withExecutionGuard(
        {},
        new InMemoryStateStore(),
        new DenoKvExecutionGuard(kv, LEASE),
      ),
      "damaged",
      "at-least-once",
    );
    const outage = await run(
      new Scheduler({}, new ResilientStateStore(new OutageOnce())),
      "outage",
    );
    // Releases that fail: refused by the backend, then something untyped.
    // On a guard with a ledger a run ends through the ledger's complete().
    const releasing = new DenoKvExecutionGuard(kv, LEASE);
    const ledger = releasing.inFlight;
    const complete = ledger.complete.bind(ledger);
    let releases = 0;
    ledger.complete = async (lease) => {
      await complete(lease);
      throw ++releases === 1
        ? new ExecutionGuardError("NOPERM", { kind: "auth" })
        : new Error("socket closed");
    };
    const released = await run(
      Scheduler.withExecutionGuard({}, new InMemoryStateStore(), releasing),
      "released",
    );
    const refused = await run(new Scheduler({}, new Refused()), "refused");
    const unreachable = new DenoKvExecutionGuard(kv, LEASE);
    // Grants go through the ledger on a guard that has one.
    unreachable.acquire = unreachable.inFlight.acquire = () =>
      Promise.reject(
        new ExecutionGuardError("guard down", { kind: "connection" }),
      );
    const guardDown = await run(
      Scheduler.withExecutionGuard({}, new InMemoryStateStore(), unreachable),
      "guard-down",
    );

    const kinds = (events: SchedulerEvent[]) =>
      events.map((event) => [
        event.type,
        "errorKind" in event ? event.errorKind : undefined,
      ]);
    const count = (events: SchedulerEvent[], type: string) =>
      events.filter((event) => event.type === type).length;
    const acquireFailed = count(damaged, "execution-guard-acquire-failed");
    const dataDamaged = count(damaged, "execution-guard-data-damaged");
    assert.ok(acquireFailed >= 1 && dataDamaged >= 1, `${kinds(damaged)}`);
    for (const [type, kind] of kinds(damaged)) {
      if (type !== "scheduler-stopped") assert.equal(kind, "data", type);
    }
    assert.deepEqual(kinds(outage), [
      ["store-degraded", "connection"],
      ["scheduler-stopped", undefined],
    ]);
    assert.deepEqual(kinds(released), [
      ["execution-guard-release-failed", "auth"],
      ["execution-guard-release-failed", "unknown"],
      ["scheduler-stopped", undefined],
    ]);
    for (const events of [refused, guardDown]) {
      assert.deepEqual(events.map((event) => event.type), [
        "scheduler-stopped",
        "rejected",
      ]);
    }

    const errors = (await points(reader))
      .filter((p) => p.metric === METRIC.errors)
      .map((p) => [
        p.attributes[ATTR.jobId],
        p.attributes[ATTR.errorSource],
        p.attributes[ATTR.errorType],
        p.attributes[ATTR.errorOperation] ?? null,
        p.attributes[ATTR.errorFatal],
        p.value,
      ]);
    assert.deepEqual(
      errors.sort(),
      [
        ["damaged", "guard", "data", "acquire", false, acquireFailed],
        ["damaged", "guard", "data", "reclaim", false, dataDamaged],
        ["guard-down", "guard", "connection", null, true, 1],
        ["outage", "store", "connection", "save", false, 1],
        ["refused", "store", "auth", "load", true, 1],
        ["released", "guard", "auth", "release", false, 1],
        ["released", "guard", "unknown", "release", false, 1],
      ].sort(),
    );
  } finally {
    otelMetrics.disable();
    kv.close();
    await provider.shutdown();
  }
});
