/**
 * Whether anything is registered with `@opentelemetry/api` (Deno registers
 * its providers at start-up when `OTEL_DENO=true`; an SDK registers them in
 * its set-up). Asked once per `Scheduler.run()`: with nothing registered a
 * run pays for no span, no context switch and no event, so the per-run cost
 * is nil (measured in `bench/engine_figures.ts`).
 *
 * @module
 */

import {
  createNoopMeter,
  metrics,
  ProxyTracerProvider,
  trace,
} from "@opentelemetry/api";
import { type AttemptTracer, OtelAttemptTracer } from "./_attempt_span.ts";
import { RunMetrics } from "./_run_metrics.ts";
import { SCOPE } from "./_names.ts";

const NOOP_METER = Object.getPrototypeOf(createNoopMeter());
// A proxy without a delegate hands out the API's no-op tracer.
const NOOP_TRACER = Object.getPrototypeOf(
  new ProxyTracerProvider().getDelegate().getTracer(SCOPE),
);

/** What one `Scheduler.run()` reports to OpenTelemetry. */
export interface RunTelemetry {
  /** Opens a span per attempt; absent when no tracer provider is registered. */
  readonly tracer?: AttemptTracer;
  /** Fed with events; absent when no meter provider is registered. */
  readonly metrics?: RunMetrics;
}

/**
 * The telemetry of a run about to start, or `undefined` when nothing is
 * registered. Until a provider is registered the API hands out its no-op
 * tracer and no-op meter: those are what "nothing" looks like.
 */
export function runTelemetry(): RunTelemetry | undefined {
  // An SDK registers behind the API's proxy; Deno registers its own provider.
  const provider = trace.getTracerProvider();
  const tracer =
    (provider instanceof ProxyTracerProvider
      ? provider.getDelegate()
      : provider).getTracer(SCOPE);
  const traced = Object.getPrototypeOf(tracer) !== NOOP_TRACER;
  const meter = metrics.getMeter(SCOPE);
  const metered = Object.getPrototypeOf(meter) !== NOOP_METER;
  if (!traced && !metered) return undefined;
  return {
    ...(traced ? { tracer: new OtelAttemptTracer(tracer) } : {}),
    ...(metered ? { metrics: new RunMetrics(meter) } : {}),
  };
}
