/**
 * Every metric docs/observability.md lists is fed by the event it names, with
 * the unit and attributes it names, read back through the OpenTelemetry SDK's
 * own meter provider; the tables of the doc name exactly the instruments and
 * span attributes the code uses.
 */
import assert from "node:assert/strict";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { metrics as otelMetrics, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { RunMetrics } from "../src/telemetry/_run_metrics.ts";
import { runTelemetry } from "../src/telemetry/_registered.ts";
import { ATTR, METRIC } from "../src/telemetry/_names.ts";
import {
  InMemoryStateStore,
  Job,
  type JobState,
  OverlapPolicy,
  type RunCompletedEvent,
  type RunRecord,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { installFakeClock } from "./_fake_time.ts";
import { points, Reader } from "./_metric_reader.ts";

const at = new Date("2026-04-03T01:00:00Z");
const base = {
  jobId: "report",
  scheduledAt: at,
  catchUp: false,
  triggerCount: 7,
};

Deno.test("each event feeds its metric with the documented unit and attributes", async () => {
  const reader = new Reader();
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = new RunMetrics(provider.getMeter("test"));
  const events: SchedulerEvent[] = [
    { ...base, type: "run-started" },
    {
      ...base,
      type: "run-completed",
      status: "timed-out",
      error: "slow",
      startedAt: new Date(at.getTime() + 1_000),
      finishedAt: new Date(at.getTime() + 3_500),
    },
    { ...base, type: "run-skipped", count: 3, reason: "overlap" },
    {
      ...base,
      type: "run-reclaimed",
      fencingToken: 9n,
      previousFencingToken: 8n,
    },
    { ...base, type: "execution-guard-contended" },
    { ...base, type: "execution-guard-lost" },
    {
      ...base,
      type: "execution-guard-acquire-failed",
      error: "unreadable",
      errorKind: "data",
    },
    {
      ...base,
      type: "execution-guard-release-failed",
      error: "denied",
      errorKind: "auth",
    },
    // A detail without a kind (a custom store's): counted as unknown.
    { ...base, type: "execution-guard-release-failed", error: "odd" },
    {
      type: "execution-guard-data-damaged",
      jobId: "report",
      error: "set aside",
      errorKind: "data",
    },
    {
      type: "store-degraded",
      jobId: "report",
      operation: "save",
      error: "down",
      errorKind: "connection",
    },
    // Not a metric: ignored.
    { type: "terminal-state-deleted", jobId: "report", triggerCount: 7 },
  ];
  for (const event of events) {
    if (metrics.types.has(event.type)) metrics.onEvent(event);
  }
  const got = await points(reader);
  const find = (metric: string) => got.filter((p) => p.metric === metric);
  const job = { [ATTR.jobId]: "report" };
  assert.deepEqual(
    find(METRIC.runs).map((p) => [p.unit, p.attributes, p.value]),
    [
      ["{run}", { ...job, [ATTR.status]: "timed-out" }, 1],
    ],
  );
  const [lateness] = find(METRIC.lateness);
  assert.equal(lateness.unit, "s");
  const late = lateness.value as { count: number; sum: number };
  assert.equal(late.count, 1);
  // Started now, scheduled on 2026-04-03: the lateness is that gap.
  assert.ok(Math.abs(late.sum - (Date.now() - at.getTime()) / 1000) < 60);
  const [duration] = find(METRIC.duration);
  assert.deepEqual(duration.attributes, { ...job, [ATTR.status]: "timed-out" });
  // The attempt's own instants, whenever the event arrives.
  const took = duration.value as { count: number; sum: number };
  assert.deepEqual([took.count, took.sum], [1, 2.5]);
  assert.deepEqual(
    find(METRIC.skipped).map((p) => [p.unit, p.attributes, p.value]),
    [
      ["{occurrence}", { ...job, [ATTR.skipReason]: "overlap" }, 3],
    ],
  );
  assert.deepEqual(find(METRIC.reclaimed).map((p) => [p.unit, p.value]), [[
    "{run}",
    1,
  ]]);
  assert.deepEqual(find(METRIC.contended).map((p) => [p.unit, p.value]), [[
    "{occurrence}",
    1,
  ]]);
  assert.deepEqual(find(METRIC.lost).map((p) => [p.unit, p.value]), [[
    "{lease}",
    1,
  ]]);
  assert.deepEqual(
    find(METRIC.errors).map((p) => [
      p.attributes[ATTR.errorSource],
      p.attributes[ATTR.errorType],
      p.attributes[ATTR.errorOperation],
      p.attributes[ATTR.errorFatal],
      p.value,
    ]).sort(),
    [
      ["guard", "auth", "release", false, 1],
      ["guard", "data", "acquire", false, 1],
      ["guard", "data", "reclaim", false, 1],
      ["guard", "unknown", "release", false, 1],
      ["store", "connection", "save", false, 1],
    ],
  );
  assert.equal(find(METRIC.errors)[0].unit, "{error}");
  await provider.shutdown();
});

function tableColumn(doc: string, marker: string): string[] {
  const start = doc.indexOf(`<!-- ${marker}:start -->`);
  const end = doc.indexOf(`<!-- ${marker}:end -->`);
  assert.ok(start >= 0 && end > start, `docs/observability.md has ${marker}`);
  return doc.slice(start, end).split("\n")
    .map((line) => /^\|\s*`([^`]+)`/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

Deno.test("docs/observability.md names exactly the metrics and span attributes the code uses", async () => {
  const doc = await Deno.readTextFile(
    new URL("../docs/observability.md", import.meta.url),
  );
  assert.deepEqual(
    tableColumn(doc, "metrics").sort(),
    Object.values(METRIC).sort(),
  );
  const metricOnly: string[] = [
    ATTR.skipReason,
    ATTR.errorSource,
    ATTR.errorOperation,
    ATTR.errorFatal,
  ];
  const spanAttributes = Object.values(ATTR).filter((name) =>
    !metricOnly.includes(name)
  );
  assert.deepEqual(
    tableColumn(doc, "span-attributes").sort(),
    spanAttributes.sort(),
  );
  for (const name of metricOnly) {
    assert.ok(doc.includes(`\`${name}\``), name);
  }
});

Deno.test("with nothing registered a run gets no telemetry; a registered meter provider alone gives metrics and no tracer", () => {
  assert.equal(runTelemetry(), undefined);
  const provider = new MeterProvider({ readers: [new Reader()] });
  assert.ok(otelMetrics.setGlobalMeterProvider(provider));
  try {
    const telemetry = runTelemetry();
    assert.ok(telemetry?.metrics instanceof RunMetrics);
    assert.equal(telemetry?.tracer, undefined);
  } finally {
    otelMetrics.disable();
  }
  assert.equal(runTelemetry(), undefined);
});

/** A store whose every save takes a (fake) minute, as a slow backend would. */
class SlowSaveStore extends InMemoryStateStore {
  saves = 0;
  override async save(state: JobState): Promise<void> {
    this.saves++;
    await new Promise((resolve) => setTimeout(resolve, 60_000));
    await super.save(state);
  }
}

Deno.test("the duration is the attempt itself: not the slow store save after it, and a manual run beside a scheduled one of the same trigger count keeps its own", async () => {
  const start = Date.UTC(2026, 3, 3, 1);
  const clock = installFakeClock(start);
  const reader = new Reader();
  const meters = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracers = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  assert.ok(otelMetrics.setGlobalMeterProvider(meters));
  assert.ok(trace.setGlobalTracerProvider(tracers));
  try {
    const store = new SlowSaveStore();
    // The scheduled run takes 5 s, the manual one 2 s, side by side.
    const job = Job.withoutDeps(
      "timed",
      Schedule.atTimes([start + 1_000]),
      Task.fromAsync(({ run }) =>
        new Promise((resolve) =>
          setTimeout(resolve, run.manual ? 2_000 : 5_000)
        )
      ),
    ).withOverlapPolicy(OverlapPolicy.AllowParallel);
    const scheduler = new Scheduler({}, store);
    const handle = scheduler.handle();
    const completed: RunCompletedEvent[] = [];
    let manual: Promise<RunRecord> | undefined;
    scheduler.addEventListener("run-started", (event) => {
      if (!event.detail.manual) manual = handle.triggerNow();
    });
    scheduler.addEventListener("run-completed", (event) => {
      completed.push(event.detail);
    });
    const running = scheduler.run(job);
    await clock.runAllAsync();
    const report = await running;
    assert.equal((await manual!).manual, true);
    assert.ok(store.saves >= 2, "the saves after the runs took their minute");
    // Both runs have the same trigger count: only their own instants tell
    // their attempts apart.
    assert.deepEqual(
      completed.map((e) => [e.triggerCount, e.manual === true]).sort(),
      [[1, false], [1, true]],
    );
    const seconds = (e: RunCompletedEvent) =>
      (e.finishedAt!.getTime() - e.startedAt!.getTime()) / 1000;
    assert.deepEqual(completed.map(seconds).sort(), [2, 5]);
    // The event's instants are the run record's.
    assert.deepEqual(
      completed.map((e) => [e.startedAt, e.finishedAt]).sort(),
      report.history.map((r) => [r.startedAt, r.finishedAt]).sort(),
    );
    const [duration] = (await points(reader)).filter((p) =>
      p.metric === METRIC.duration
    );
    assert.deepEqual(duration.attributes, {
      [ATTR.jobId]: "timed",
      [ATTR.status]: "success",
    });
    const value = duration.value as {
      count: number;
      sum: number;
      min: number;
      max: number;
    };
    assert.deepEqual(
      [value.count, value.sum, value.min, value.max],
      [2, 7, 2, 5],
    );
    // Each span ends where its attempt did, as the metric and record say.
    const spans = exporter.getFinishedSpans();
    const ms = ([s, ns]: [number, number]) => s * 1000 + ns / 1e6;
    assert.deepEqual(
      spans.map((span) => [
        ms(span.startTime),
        ms(span.endTime),
        span.attributes[ATTR.manual],
      ]).sort(),
      completed.map((e) => [
        e.startedAt!.getTime(),
        e.finishedAt!.getTime(),
        e.manual === true,
      ]).sort(),
    );
  } finally {
    otelMetrics.disable();
    trace.disable();
    clock.uninstall();
    await meters.shutdown();
    await tracers.shutdown();
  }
});
