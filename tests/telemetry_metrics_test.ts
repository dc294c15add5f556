/**
 * Every metric docs/observability.md lists is fed by the event it names, with
 * the unit and attributes it names, read back through the OpenTelemetry SDK's
 * own meter provider; the tables of the doc name exactly the instruments and
 * span attributes the code uses.
 */
import assert from "node:assert/strict";
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import { metrics as otelMetrics } from "@opentelemetry/api";
import { RunMetrics } from "../src/telemetry/_run_metrics.ts";
import { runTelemetry } from "../src/telemetry/_registered.ts";
import { ATTR, METRIC } from "../src/telemetry/_names.ts";
import type { SchedulerEvent } from "../mod.ts";

class Reader extends MetricReader {
  constructor() {
    super({
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
    });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  metric: string;
  unit: string;
  attributes: Record<string, unknown>;
  value: unknown;
}

async function points(reader: Reader): Promise<Point[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.flatMap((metric) =>
      (metric.dataPoints as {
        attributes: Record<string, unknown>;
        value: unknown;
      }[])
        .map((point) => ({
          metric: metric.descriptor.name,
          unit: metric.descriptor.unit,
          attributes: point.attributes,
          value: point.value,
        }))
    )
  );
}

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
    { ...base, type: "run-completed", status: "timed-out", error: "slow" },
    { ...base, type: "run-skipped", count: 3, reason: "overlap" },
    {
      ...base,
      type: "run-reclaimed",
      fencingToken: 9n,
      previousFencingToken: 8n,
    },
    { ...base, type: "execution-guard-contended" },
    { ...base, type: "execution-guard-lost" },
    { ...base, type: "execution-guard-acquire-failed", error: "down" },
    { ...base, type: "execution-guard-release-failed", error: "down" },
    {
      type: "store-degraded",
      jobId: "report",
      operation: "save",
      error: "down",
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
  assert.equal((duration.value as { count: number }).count, 1);
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
    find(METRIC.errors).map((
      p,
    ) => [
      p.attributes[ATTR.errorSource],
      p.attributes[ATTR.errorType],
      p.value,
    ]).sort(),
    [["guard", "acquire", 1], ["guard", "release", 1], ["store", "save", 1]],
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
  const spanAttributes = Object.values(ATTR).filter((name) =>
    name !== ATTR.skipReason && name !== ATTR.errorSource
  );
  assert.deepEqual(
    tableColumn(doc, "span-attributes").sort(),
    spanAttributes.sort(),
  );
  for (const name of [ATTR.skipReason, ATTR.errorSource]) {
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
