/**
 * The names of the scheduler's spans, metrics and attributes, in one place so
 * the code and `docs/observability.md` (checked by
 * `tests/telemetry_names_test.ts`) cannot drift apart. They follow
 * OpenTelemetry's naming conventions: dot-separated lowercase namespaces,
 * units in the instrument's `unit` (seconds for durations), no `_total`.
 *
 * @module
 */

/** The instrumentation scope of every span and instrument. */
export const SCOPE = "@cloudiful/scheduler";

/** Span and metric attributes. */
export const ATTR = {
  jobId: "scheduler.job.id",
  scheduledAt: "scheduler.run.scheduled_at",
  lateness: "scheduler.run.lateness",
  triggerCount: "scheduler.run.trigger_count",
  attempt: "scheduler.run.attempt",
  fencingToken: "scheduler.run.fencing_token",
  replayed: "scheduler.run.replayed",
  manual: "scheduler.run.manual",
  catchUp: "scheduler.run.catch_up",
  status: "scheduler.run.status",
  skipReason: "scheduler.skip.reason",
  errorSource: "scheduler.error.source",
  errorOperation: "scheduler.error.operation",
  errorFatal: "scheduler.error.fatal",
  errorType: "error.type",
} as const;

/** The instruments, with their unit and meaning (as in the docs). */
export const METRIC = {
  runs: "scheduler.runs",
  lateness: "scheduler.run.lateness",
  duration: "scheduler.run.duration",
  skipped: "scheduler.occurrences.skipped",
  contended: "scheduler.lease.contended",
  lost: "scheduler.lease.lost",
  errors: "scheduler.errors",
  reclaimed: "scheduler.runs.reclaimed",
} as const;

/** The span of one attempt: `run <job id>` ({operation} {target}). */
export function spanName(jobId: string): string {
  return `run ${jobId}`;
}
