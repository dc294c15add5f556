/**
 * The scheduler's metrics, fed from its own events (listening to them as any
 * listener does, for the length of one `run()`), so the loop carries no
 * metric calls of its own. Built
 * only when a meter provider is registered (see `_registered.ts`).
 *
 * @module
 */

import { type Attributes, type Meter, metrics } from "@opentelemetry/api";
import {
  ExecutionGuardError,
  isInstance,
  StoreError,
  TaskJoinError,
} from "../errors.ts";
import type { SchedulerEvent } from "../scheduler/events/events.ts";
import { ATTR, METRIC, SCOPE } from "./_names.ts";

/** The event types the metrics are fed from. */
export const METRIC_EVENT_TYPES: ReadonlySet<SchedulerEvent["type"]> = new Set<
  SchedulerEvent["type"]
>([
  "run-started",
  "run-completed",
  "run-skipped",
  "run-reclaimed",
  "execution-guard-contended",
  "execution-guard-lost",
  "execution-guard-acquire-failed",
  "execution-guard-release-failed",
  "execution-guard-data-damaged",
  "store-degraded",
]);

/** Where an error `run()` fails with came from, by its class. */
function fatalSource(error: unknown): string {
  if (isInstance(error, StoreError)) return "store";
  if (isInstance(error, ExecutionGuardError)) return "guard";
  if (isInstance(error, TaskJoinError)) return "task";
  return "scheduler";
}

function instruments(meter: Meter) {
  return {
    runs: meter.createCounter(METRIC.runs, {
      description: "Run attempts that ended, by outcome",
      unit: "{run}",
    }),
    lateness: meter.createHistogram(METRIC.lateness, {
      description: "How long after its scheduled instant a run started",
      unit: "s",
    }),
    duration: meter.createHistogram(METRIC.duration, {
      description: "How long an attempt ran",
      unit: "s",
    }),
    skipped: meter.createCounter(METRIC.skipped, {
      description: "Occurrences skipped, by reason (missed, overlap or lost)",
      unit: "{occurrence}",
    }),
    contended: meter.createCounter(METRIC.contended, {
      description: "Occurrences whose lease another instance held",
      unit: "{occurrence}",
    }),
    lost: meter.createCounter(METRIC.lost, {
      description: "Leases lost while a run held them",
      unit: "{lease}",
    }),
    errors: meter.createCounter(METRIC.errors, {
      description: "Store, guard and fatal failures, by source and kind",
      unit: "{error}",
    }),
    reclaimed: meter.createCounter(METRIC.reclaimed, {
      description: "At-least-once runs reclaimed from a dead holder",
      unit: "{run}",
    }),
  };
}

/** Records one scheduler's events as metrics. */
export class RunMetrics {
  /** The event types the metrics are fed from. */
  readonly types: ReadonlySet<SchedulerEvent["type"]> = METRIC_EVENT_TYPES;
  readonly #i: ReturnType<typeof instruments>;

  constructor(meter: Meter = metrics.getMeter(SCOPE)) {
    this.#i = instruments(meter);
  }

  /**
   * Listens to `target`'s events that feed a metric (the scheduler's own
   * event flow); returns what stops it.
   */
  attach(target: EventTarget): () => void {
    const listener = (event: Event) =>
      this.onEvent((event as CustomEvent<SchedulerEvent>).detail);
    for (const type of this.types) target.addEventListener(type, listener);
    return () => {
      for (const type of this.types) target.removeEventListener(type, listener);
    };
  }

  /** Records `event` if it feeds a metric. */
  onEvent(event: SchedulerEvent): void {
    const job = { [ATTR.jobId]: event.jobId };
    const i = this.#i;
    switch (event.type) {
      case "run-started":
        // A retry starts late by its backoff, not because the scheduler was.
        if (event.attempt === undefined) {
          i.lateness.record(
            Math.max(0, Date.now() - event.scheduledAt.getTime()) / 1000,
            job,
          );
        }
        return;
      case "run-completed": {
        const outcome = { ...job, [ATTR.status]: event.status };
        i.runs.add(1, outcome);
        // The attempt's own instants, as its span has them: the event itself
        // comes after the lease release and the store save.
        const { startedAt, finishedAt } = event;
        if (startedAt !== undefined && finishedAt !== undefined) {
          i.duration.record(
            (finishedAt.getTime() - startedAt.getTime()) / 1000,
            outcome,
          );
        }
        return;
      }
      case "run-skipped":
        i.skipped.add(event.count, { ...job, [ATTR.skipReason]: event.reason });
        return;
      case "run-reclaimed":
        i.reclaimed.add(1, job);
        return;
      case "execution-guard-contended":
        i.contended.add(1, job);
        return;
      case "execution-guard-lost":
        i.lost.add(1, job);
        return;
      case "execution-guard-acquire-failed":
      case "execution-guard-release-failed":
      case "execution-guard-data-damaged":
        i.errors.add(1, {
          ...job,
          [ATTR.errorSource]: "guard",
          [ATTR.errorType]: event.errorKind ?? "unknown",
          [ATTR.errorOperation]: GUARD_OPERATION[event.type],
          [ATTR.errorFatal]: false,
        });
        return;
      case "store-degraded":
        i.errors.add(1, {
          ...job,
          [ATTR.errorSource]: "store",
          [ATTR.errorType]: event.errorKind ?? "unknown",
          [ATTR.errorOperation]: event.operation,
          [ATTR.errorFatal]: false,
        });
        return;
    }
  }

  /**
   * Counts the error `run()` of job `jobId` rejects with (its
   * `scheduler-stopped` says so, after the metrics stopped listening).
   */
  failed(jobId: string, error: unknown): void {
    const kind = (error as { kind?: unknown } | null)?.kind;
    const attributes: Attributes = {
      [ATTR.jobId]: jobId,
      [ATTR.errorSource]: fatalSource(error),
      [ATTR.errorType]: typeof kind === "string" ? kind : "unknown",
      [ATTR.errorFatal]: true,
    };
    if (isInstance(error, StoreError)) {
      attributes[ATTR.errorOperation] = error.operation;
    }
    this.#i.errors.add(1, attributes);
  }
}

/** The guard call behind each guard error event. */
const GUARD_OPERATION = {
  "execution-guard-acquire-failed": "acquire",
  "execution-guard-release-failed": "release",
  // Damaged in-flight records are found when looking for runs to reclaim.
  "execution-guard-data-damaged": "reclaim",
} as const;
