/**
 * The context a task receives on each run: the occurrence's facts, the job's
 * dependencies and the run's abort signal.
 *
 * @module
 */

/**
 * Facts about the occurrence a run is for.
 *
 * @example
 * ```ts
 * import type { RunContext } from "@cloudiful/scheduler";
 * function describe(run: RunContext): string {
 *   return `${run.jobId} #${run.triggerCount} for ${run.scheduledAt.toISOString()}`;
 * }
 * ```
 */
export interface RunContext {
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant (not the start time). */
  readonly scheduledAt: Date;
  /** Whether this run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The scheduler's time zone. */
  readonly timezone: string;
  /** The 1-based ordinal of the occurrence among all consumed. */
  readonly triggerCount: number;
  /** Set when the execution guard grants one; see `ExecutionLease`. */
  readonly fencingToken?: bigint;
  /** The attempt on this occurrence, from 1 (see `Job.withRetry`). */
  readonly attempt: number;
  /**
   * How long after `scheduledAt` the occurrence was due because of
   * `Job.withJitter` (0 without jitter and for manual runs).
   */
  readonly jitterMs: number;
  /** Whether `SchedulerHandle.triggerNow()` started this run. */
  readonly manual: boolean;
  /**
   * `true` when this run replays an at-least-once occurrence whose first
   * holder died mid-run (it may have done part or all of its work): make
   * the task idempotent, for example keyed by `jobId` + `scheduledAt`, and
   * reject writes fenced below `fencingToken`. Absent otherwise.
   */
  readonly replayed?: boolean;
}

/**
 * What a task receives: the run's facts, the job's dependencies and a signal
 * that aborts on `cancel()`, when the execution lease is lost, or (with a
 * `TimeoutError`) when the attempt outlives `Job.withRunTimeout(ms)`.
 *
 * @example
 * ```ts
 * import type { TaskContext } from "@cloudiful/scheduler";
 * async function refresh(ctx: TaskContext<{ url: string }>) {
 *   await fetch(ctx.deps.url, { signal: ctx.signal }).catch(() => {});
 * }
 * ```
 */
export interface TaskContext<D> {
  /** The occurrence being run. */
  readonly run: RunContext;
  /** The dependencies given to the `Job`. */
  readonly deps: D;
  /**
   * Aborted on `cancel()` (with its reason), when the lease is lost, or with
   * a `DOMException` named `TimeoutError` when the attempt times out. Each
   * attempt has its own signal.
   */
  readonly signal: AbortSignal;
}
