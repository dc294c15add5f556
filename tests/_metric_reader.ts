/**
 * The OpenTelemetry SDK's own metric pipeline for tests: a reader to collect
 * on demand, and the points it holds, flattened.
 */
import {
  AggregationTemporality,
  MetricReader,
} from "@opentelemetry/sdk-metrics";

/** A cumulative reader that collects when asked. */
export class Reader extends MetricReader {
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

/** One data point, with its instrument's name and unit. */
export interface Point {
  metric: string;
  unit: string;
  attributes: Record<string, unknown>;
  value: unknown;
}

/** Every point `reader` collects now. */
export async function points(reader: Reader): Promise<Point[]> {
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
