/**
 * Events about occurrences and their runs: a trigger emitted, a run started, reclaimed, completed, retried, timed out or skipped, and the scheduler stopped.
 *
 * @module
 */

import type { RunStatus, SchedulerStopReason } from "../../constants.ts";

/**
 * A trigger was decided (before the overlap policy starts, queues or drops it).
 *
 * @example
 * ```ts
 * import type { TriggerEmittedEvent } from "@cloudiful/scheduler";
 * const show = (e: TriggerEmittedEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface TriggerEmittedEvent {
  /** The event type. */
  readonly type: "trigger-emitted";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
}

/**
 * An at-least-once occurrence whose holder died (its lease expired with the
 * in-flight record still there) was reclaimed by this instance; its
 * `run-started` follows, and the task sees `ctx.run.replayed === true`.
 *
 * @example
 * ```ts
 * import type { RunReclaimedEvent } from "@cloudiful/scheduler";
 * const show = (e: RunReclaimedEvent) => console.log(e.jobId, e.scheduledAt, e.previousFencingToken, e.fencingToken);
 * ```
 */
export interface RunReclaimedEvent {
  /** The event type. */
  readonly type: "run-reclaimed";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** As decided for the original run. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal (the original run's). */
  readonly triggerCount: number;
  /** The new lease's fencing token, above the dead holder's. */
  readonly fencingToken?: bigint;
  /** The dead holder's fencing token. */
  readonly previousFencingToken?: bigint;
}

/**
 * A run started (its lease, if any, was granted).
 *
 * @example
 * ```ts
 * import type { RunStartedEvent } from "@cloudiful/scheduler";
 * const show = (e: RunStartedEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface RunStartedEvent {
  /** The event type. */
  readonly type: "run-started";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /** The lease's fencing token, when the guard grants one. */
  readonly fencingToken?: bigint;
  /** The attempt; present only on retries (2, 3, …). */
  readonly attempt?: number;
  /** Present (and `true`) only on runs started by `triggerNow()`. */
  readonly manual?: true;
  /**
   * Present (and `true`) only on an at-least-once occurrence reclaimed from
   * a holder that died (see `RunContext.replayed`).
   */
  readonly replayed?: true;
}

/**
 * A run finished and was recorded.
 *
 * @example
 * ```ts
 * import type { RunCompletedEvent } from "@cloudiful/scheduler";
 * const show = (e: RunCompletedEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface RunCompletedEvent {
  /** The event type. */
  readonly type: "run-completed";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /** `success`, `failed`, `cancelled` or `timed-out`. */
  readonly status: RunStatus;
  /** The failure's message, or `null`. */
  readonly error: string | null;
  /**
   * When the attempt's task started (after the lease was granted). From
   * `startedAt` to `finishedAt` is the attempt itself: the event comes later,
   * after the lease release and the store save that record it.
   */
  readonly startedAt?: Date;
  /** When the attempt's task settled (before the lease was released). */
  readonly finishedAt?: Date;
  /** The attempt; present only on retries (2, 3, …). */
  readonly attempt?: number;
  /** Present (and `true`) only on runs started by `triggerNow()`. */
  readonly manual?: true;
  /** Present (and `true`) only on a reclaimed at-least-once occurrence. */
  readonly replayed?: true;
}

/**
 * A failed or timed-out attempt will be retried on the same occurrence after
 * `delayMs` (see `Job.withRetry`); emitted after that attempt's
 * `run-completed`.
 *
 * @example
 * ```ts
 * import type { RunRetryingEvent } from "@cloudiful/scheduler";
 * const show = (e: RunRetryingEvent) => console.log(e.jobId, e.attempt, e.delayMs, e.error);
 * ```
 */
export interface RunRetryingEvent {
  /** The event type. */
  readonly type: "run-retrying";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant (the same for every attempt). */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /** The attempt about to be made (2, 3, …). */
  readonly attempt: number;
  /** The backoff before it. */
  readonly delayMs: number;
  /** The failure of the previous attempt. */
  readonly error: string;
  /** Present (and `true`) only on runs started by `triggerNow()`. */
  readonly manual?: true;
}

/**
 * An attempt outlived `Job.withRunTimeout(ms)`: its signal was aborted with a
 * `TimeoutError`. Emitted at the deadline, whether or not the task heeds the
 * signal; the attempt is recorded (`timed-out`) once the task settles.
 *
 * @example
 * ```ts
 * import type { RunTimedOutEvent } from "@cloudiful/scheduler";
 * const show = (e: RunTimedOutEvent) => console.log(e.jobId, e.attempt, e.timeoutMs);
 * ```
 */
export interface RunTimedOutEvent {
  /** The event type. */
  readonly type: "run-timed-out";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /** The attempt that timed out (from 1). */
  readonly attempt: number;
  /** The limit it exceeded. */
  readonly timeoutMs: number;
  /** Present (and `true`) only on runs started by `triggerNow()`. */
  readonly manual?: true;
}

/**
 * Occurrences were consumed without a run, once per decision: `missed` (skip
 * or catch-up-once passed over them while nothing was running) or `overlap`
 * (forbid dropped the trigger, or they came due while queue-one already had
 * a trigger waiting).
 *
 * @example
 * ```ts
 * import type { RunSkippedEvent } from "@cloudiful/scheduler";
 * const show = (e: RunSkippedEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface RunSkippedEvent {
  /** The event type. */
  readonly type: "run-skipped";
  /** The job id. */
  readonly jobId: string;
  /** The latest of the skipped occurrences. */
  readonly scheduledAt: Date;
  /** The state's count after the decision. */
  readonly triggerCount: number;
  /** How many occurrences were consumed without a run. */
  readonly count: number;
  /**
   * Why they went without a run: `missed` and `overlap` by the job's
   * policies; `lost` (at-most-once, on a guard with an in-flight ledger:
   * Valkey, Deno KV) an occurrence whose holder died before completing it,
   * found by this instance once the holder's lease ran out
   * (docs/recovery.md).
   */
  readonly reason: "missed" | "overlap" | "lost";
}

/**
 * `run()` ended; emitted on every exit, errors included.
 *
 * @example
 * ```ts
 * import type { SchedulerStoppedEvent } from "@cloudiful/scheduler";
 * const show = (e: SchedulerStoppedEvent) => console.log(e.type, e.jobId, e.triggerCount);
 * ```
 */
export interface SchedulerStoppedEvent {
  /** The event type. */
  readonly type: "scheduler-stopped";
  /** The job id. */
  readonly jobId: string;
  /** Occurrences consumed in all. */
  readonly triggerCount: number;
  /** Why it stopped; `failed` when `run()` rejects. */
  readonly reason: SchedulerStopReason;
  /** The message of the error `run()` rejects with, when it does. */
  readonly error?: string;
}
