/**
 * Observers: a synchronous callback for every scheduler event.
 *
 * @module
 */

import type { SchedulerEvent } from "./events.ts";

/**
 * Receives every event of a scheduler, synchronously. An observer that throws
 * is reported with `console.error` and never disturbs scheduling.
 *
 * @example Count completions
 * ```ts
 * import type { SchedulerObserver } from "@cloudiful/scheduler";
 * let completed = 0;
 * const observer: SchedulerObserver = {
 *   onEvent(event) {
 *     if (event.type === "run-completed") completed++;
 *   },
 * };
 * ```
 */
export interface SchedulerObserver {
  /** Called with each event's detail. */
  onEvent(event: SchedulerEvent): void;
}

/**
 * Ignores every event.
 *
 * @example
 * ```ts
 * import { NoopObserver } from "@cloudiful/scheduler";
 * new NoopObserver().onEvent({ type: "terminal-state-deleted", jobId: "a", triggerCount: 1 });
 * ```
 */
export class NoopObserver implements SchedulerObserver {
  /**
   * Does nothing.
   *
   * @example
   * ```ts
   * import { NoopObserver } from "@cloudiful/scheduler";
   * new NoopObserver().onEvent({ type: "scheduler-stopped", jobId: "a", triggerCount: 0, reason: "terminal" });
   * ```
   */
  onEvent(_event: SchedulerEvent): void {}
}

const WARN_TYPES = new Set<string>([
  "state-repaired",
  "state-reconciled",
  "run-reclaimed",
  "execution-guard-contended",
  "execution-guard-acquire-failed",
  "execution-guard-data-damaged",
  "execution-guard-lost",
  "execution-guard-release-failed",
  "store-degraded",
  "fencing-reset",
  "run-retrying",
  "run-timed-out",
]);
const DEBUG_TYPES = new Set<string>([
  "trigger-emitted",
  "run-completed",
]);

function formatValue(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") {
    return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/**
 * One `key=value` line per event for the log, e.g.
 * `scheduler run-completed job_id=report scheduled_at=2026-04-03T01:00:00.000Z status=success`.
 */
export function formatLogLine(event: SchedulerEvent): string {
  const fields = Object.entries(event)
    .filter(([key]) => key !== "type")
    .map(([key, value]) => `${snakeCase(key)}=${formatValue(value)}`);
  return `scheduler ${event.type} ${fields.join(" ")}`;
}

/**
 * Writes one `key=value` line per event through `console`: `debug` for
 * triggers and completions; `warn` for repairs, failures (failed runs, a
 * failed stop) and guard or store trouble (contention, lost leases, release
 * failures, outages); `info` otherwise (loads, starts, skips, recoveries,
 * deletions, stops).
 *
 * @example
 * ```ts
 * import { LogObserver } from "@cloudiful/scheduler";
 * new LogObserver().onEvent({ type: "terminal-state-deleted", jobId: "report", triggerCount: 3 });
 * // scheduler terminal-state-deleted job_id=report trigger_count=3
 * ```
 */
export class LogObserver implements SchedulerObserver {
  /**
   * Logs the event.
   *
   * @example
   * ```ts
   * import { LogObserver } from "@cloudiful/scheduler";
   * new LogObserver().onEvent({ type: "scheduler-stopped", jobId: "a", triggerCount: 0, reason: "terminal" });
   * ```
   */
  onEvent(event: SchedulerEvent): void {
    const line = formatLogLine(event);
    if (
      WARN_TYPES.has(event.type) ||
      (event.type === "run-completed" &&
        (event.status === "failed" || event.status === "timed-out")) ||
      (event.type === "scheduler-stopped" && event.reason === "failed")
    ) {
      console.warn(line);
    } else if (DEBUG_TYPES.has(event.type)) {
      console.debug(line);
    } else {
      console.info(line);
    }
  }
}
