/**
 * Deno's own OpenTelemetry exporter (`OTEL_DENO=true`) carries the scheduler's
 * run spans and metrics to an OTLP/HTTP receiver: one span per attempt with
 * the attributes docs/observability.md lists, the task's own span as its
 * child, and the run, lateness and duration metrics.
 */
import assert from "node:assert/strict";
import { OtlpReceiver } from "./_otlp_receiver.ts";
import { ATTR, METRIC, SCOPE, spanName } from "../src/telemetry/_names.ts";

const FIXTURE = new URL("./fixtures/otel_instance.ts", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

Deno.test("a job run with OTEL_DENO=true exports its attempt spans and metrics over OTLP/HTTP JSON", async () => {
  const receiver = new OtlpReceiver();
  const dir = await Deno.makeTempDir();
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--config",
        CONFIG,
        FIXTURE.pathname,
        `${dir}/kv`,
        "otel-job",
      ],
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_DENO_CONSOLE: "ignore",
        OTEL_SERVICE_NAME: "scheduler-test",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.deepEqual(
      output.code,
      0,
      `${stdout}\n${new TextDecoder().decode(output.stderr)}`,
    );
    assert.ok(stdout.includes("stopped terminal"), stdout);

    const spans = receiver.spans();
    const runs = spans.filter((s) =>
      s.scope === SCOPE && s.attributes[ATTR.jobId] === "otel-job"
    )
      .sort((a, b) =>
        Number(a.attributes[ATTR.triggerCount]) * 10 +
        Number(a.attributes[ATTR.attempt]) -
        (Number(b.attributes[ATTR.triggerCount]) * 10 +
          Number(b.attributes[ATTR.attempt]))
      );
    // Occurrence 1: a failed attempt and its retry; occurrence 2: one attempt.
    assert.deepEqual(runs.length, 3, JSON.stringify(spans, null, 1));
    for (const span of runs) {
      assert.deepEqual(span.name, spanName("otel-job"));
      const a = span.attributes;
      assert.deepEqual(a[ATTR.jobId], "otel-job");
      assert.ok(!Number.isNaN(Date.parse(String(a[ATTR.scheduledAt]))));
      assert.ok(Number(a[ATTR.lateness]) >= 0);
      assert.equal(typeof a[ATTR.lateness], "number");
      assert.ok(
        /^[1-9][0-9]*$/.test(String(a[ATTR.fencingToken])),
        String(a[ATTR.fencingToken]),
      );
      assert.deepEqual(a[ATTR.replayed], false);
      assert.deepEqual(a[ATTR.manual], false);
      assert.deepEqual(typeof a[ATTR.catchUp], "boolean");
    }
    const [failed, retried, second] = runs;
    assert.deepEqual(
      [failed, retried, second].map((s) => [
        s.attributes[ATTR.triggerCount],
        s.attributes[ATTR.attempt],
        s.attributes[ATTR.status],
      ]),
      [[1, 1, "failed"], [1, 2, "success"], [2, 1, "success"]],
    );
    assert.deepEqual(failed.status.code, 2); // ERROR
    assert.deepEqual(failed.status.message, "first attempt fails");
    assert.deepEqual(failed.attributes[ATTR.errorType], "failed");
    assert.ok(retried.status.code !== 2);
    // Each attempt's task span is its child, in the same trace.
    for (const run of runs) {
      const children = spans.filter((s) =>
        s.name === "task child" && s.parentSpanId === run.spanId
      );
      assert.deepEqual(children.length, 1, `children of ${run.spanId}`);
      assert.deepEqual(children[0].traceId, run.traceId);
    }

    const points = receiver.points();
    const ofJob = (metric: string, jobId: string) =>
      points.filter((p) =>
        p.metric === metric && p.attributes[ATTR.jobId] === jobId
      );
    const runsPoints = ofJob(METRIC.runs, "otel-job");
    const byStatus = Object.fromEntries(
      runsPoints.map((p) => [p.attributes[ATTR.status], p.value]),
    );
    assert.deepEqual(byStatus, { failed: 1, success: 2 });
    assert.deepEqual(runsPoints[0].unit, "{run}");
    // Lateness of each occurrence's first attempt; duration of every attempt.
    for (
      const [name, attempts] of [[METRIC.lateness, 2], [
        METRIC.duration,
        3,
      ]] as const
    ) {
      const histogram = ofJob(name, "otel-job");
      const count = histogram.reduce((sum, p) => sum + (p.count ?? 0), 0);
      assert.deepEqual(
        count,
        attempts,
        `${name}: ${JSON.stringify(histogram)}`,
      );
      assert.deepEqual(histogram[0].unit, "s");
    }
    const skipped = ofJob(METRIC.skipped, "otel-skip");
    assert.equal(skipped.length, 1, JSON.stringify(skipped));
    assert.equal(skipped[0].attributes[ATTR.skipReason], "missed");
    // As many as the run-skipped events said.
    const said = [...stdout.matchAll(/^skipped (\d+) missed$/gm)]
      .reduce((sum, match) => sum + Number(match[1]), 0);
    assert.ok(said >= 1, stdout);
    assert.equal(skipped[0].value, said);
    assert.equal(skipped[0].unit, "{occurrence}");
    const contended = ofJob(METRIC.contended, "otel-contend");
    assert.deepEqual(contended.map((p) => p.value), [1]);
    // The occurrence ran once, on the instance that won the lease.
    assert.deepEqual(ofJob(METRIC.runs, "otel-contend").map((p) => p.value), [
      1,
    ]);
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});
