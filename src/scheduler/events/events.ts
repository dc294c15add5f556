/**
 * The events a scheduler emits, as `CustomEvent`s on the scheduler and as
 * calls to its observer. Every detail is `{ type, jobId, ...fields }`, with
 * instants as `Date`s.
 *
 * @module
 */

import type {
  RunStatus,
  SchedulerStopReason,
  StateLoadSource,
  StoreOperation,
} from "../../constants.ts";
/**
 * The state a run starts from was loaded, created or repaired.
 *
 * @example
 * ```ts
 * import type { StateLoadedEvent } from "@cloudiful/scheduler";
 * const show = (e: StateLoadedEvent) => console.log(e.type, e.jobId, e.triggerCount);
 * ```
 */
export interface StateLoadedEvent {
  /** The event type. */
  readonly type: "state-loaded";
  /** The job id. */
  readonly jobId: string;
  /** Occurrences consumed so far. */
  readonly triggerCount: number;
  /** The next occurrence; `null` when exhausted. */
  readonly nextRunAt: Date | null;
  /** `new`, `restored` or `repaired`. */
  readonly source: StateLoadSource;
}

/**
 * A stored interval state without a next run was given one.
 *
 * @example
 * ```ts
 * import type { StateRepairedEvent } from "@cloudiful/scheduler";
 * const show = (e: StateRepairedEvent) => console.log(e.type, e.jobId, e.triggerCount);
 * ```
 */
export interface StateRepairedEvent {
  /** The event type. */
  readonly type: "state-repaired";
  /** The job id. */
  readonly jobId: string;
  /** Occurrences consumed so far (kept). */
  readonly triggerCount: number;
  /** The stored next run (`null`). */
  readonly previousNextRunAt: Date | null;
  /** The repaired next run: now + the interval. */
  readonly repairedNextRunAt: Date;
}

/**
 * The stored state came from another job definition (its fingerprint
 * differs): `nextRunAt` was recomputed from the job's definition.
 */
export interface StateReconciledEvent {
  /** The event type. */
  readonly type: "state-reconciled";
  /** The job id. */
  readonly jobId: string;
  /** Occurrences consumed so far (kept). */
  readonly triggerCount: number;
  /** The stored definition's fingerprint and next run. */
  readonly previous: ReconciledSide;
  /** The job's definition fingerprint and the recomputed next run. */
  readonly next: ReconciledSide;
}

/**
 * One side of a `state-reconciled` event.
 */
export interface ReconciledSide {
  /** The definition fingerprint (see the README's "Reconciliation"). */
  readonly fingerprint: string;
  /** The next run; `null` when the schedule is over. */
  readonly nextRunAt: Date | null;
}

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
  /** Why they went without a run. */
  readonly reason: "missed" | "overlap";
}

/**
 * Another instance holds (or has run) the occurrence; it is not run here.
 *
 * @example
 * ```ts
 * import type { ExecutionGuardContendedEvent } from "@cloudiful/scheduler";
 * const show = (e: ExecutionGuardContendedEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface ExecutionGuardContendedEvent {
  /** The event type. */
  readonly type: "execution-guard-contended";
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
 * *(new)* The guard could not read the occurrence's lease (it answered an
 * `ExecutionGuardError` kind `data`, such as an undecodable lease value).
 * The occurrence is treated as contended — it does not run here, as it may
 * be another instance's — and scheduling goes on with later occurrences.
 */
export interface ExecutionGuardAcquireFailedEvent {
  /** The event type. */
  readonly type: "execution-guard-acquire-failed";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /** The guard error's message (it names the key). */
  readonly error: string;
}

/**
 * A run's lease was lost: its signal is aborted, the scheduler shuts down.
 *
 * @example
 * ```ts
 * import type { ExecutionGuardLostEvent } from "@cloudiful/scheduler";
 * const show = (e: ExecutionGuardLostEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface ExecutionGuardLostEvent {
  /** The event type. */
  readonly type: "execution-guard-lost";
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
 * Releasing a lease failed; the run is still recorded.
 *
 * @example
 * ```ts
 * import type { ExecutionGuardReleaseFailedEvent } from "@cloudiful/scheduler";
 * const show = (e: ExecutionGuardReleaseFailedEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface ExecutionGuardReleaseFailedEvent {
  /** The event type. */
  readonly type: "execution-guard-release-failed";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /** The release failure's message. */
  readonly error: string;
}

/**
 * The state store is serving from its mirror (once per outage).
 *
 * @example
 * ```ts
 * import type { StoreDegradedEvent } from "@cloudiful/scheduler";
 * const show = (e: StoreDegradedEvent) => console.log(e.type, e.jobId, e.operation);
 * ```
 */
export interface StoreDegradedEvent {
  /** The event type. */
  readonly type: "store-degraded";
  /** The job id. */
  readonly jobId: string;
  /** The store call that found the primary unreachable. */
  readonly operation: StoreOperation;
  /** The primary's error message. */
  readonly error: string;
}

/**
 * The state store's primary answers again; changes were written back.
 *
 * @example
 * ```ts
 * import type { StoreRecoveredEvent } from "@cloudiful/scheduler";
 * const show = (e: StoreRecoveredEvent) => console.log(e.type, e.jobId, e.operation);
 * ```
 */
export interface StoreRecoveredEvent {
  /** The event type. */
  readonly type: "store-recovered";
  /** The job id. */
  readonly jobId: string;
  /** The store call that found the primary healthy. */
  readonly operation: StoreOperation;
}

/**
 * The execution guard found the job's fencing counter gone (a Valkey server
 * restarted empty, a KV file deleted) or behind a token it had granted, and
 * re-seeded it: the new token is still greater than every token this guard
 * saw for the job, but a sink that keeps the newest token it accepted should
 * know that the counter was lost. Forwarded from the guard's own
 * `fencing-reset` event (the Deno KV and Valkey guards dispatch one).
 *
 * @example
 * ```ts
 * import type { FencingResetEvent } from "@cloudiful/scheduler";
 * const show = (e: FencingResetEvent) =>
 *   console.warn(e.type, e.jobId, e.previousFencingToken, e.fencingToken);
 * ```
 */
export interface FencingResetEvent {
  /** The event type. */
  readonly type: "fencing-reset";
  /** The job id. */
  readonly jobId: string;
  /** The highest token the guard had granted or seen for the job. */
  readonly previousFencingToken: bigint;
  /** The token granted from the re-seeded counter. */
  readonly fencingToken: bigint;
}

/**
 * The exhausted job's stored state was deleted (`terminalStatePolicy: "delete"`).
 *
 * @example
 * ```ts
 * import type { TerminalStateDeletedEvent } from "@cloudiful/scheduler";
 * const show = (e: TerminalStateDeletedEvent) => console.log(e.type, e.jobId, e.triggerCount);
 * ```
 */
export interface TerminalStateDeletedEvent {
  /** The event type. */
  readonly type: "terminal-state-deleted";
  /** The job id. */
  readonly jobId: string;
  /** Occurrences consumed in all. */
  readonly triggerCount: number;
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

/**
 * Every event, by `type`.
 *
 * @example Listen for completions
 * ```ts
 * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
 * const scheduler = new Scheduler({}, new InMemoryStateStore());
 * scheduler.addEventListener("run-completed", (event) => {
 *   console.log(event.detail.status, event.detail.error);
 * });
 * ```
 */
export interface SchedulerEventMap {
  /** See {@linkcode StateLoadedEvent}. */
  "state-loaded": StateLoadedEvent;
  /** See {@linkcode StateRepairedEvent}. */
  "state-repaired": StateRepairedEvent;
  /** See {@linkcode StateReconciledEvent}. */
  "state-reconciled": StateReconciledEvent;
  /** See {@linkcode TriggerEmittedEvent}. */
  "trigger-emitted": TriggerEmittedEvent;
  /** See {@linkcode RunStartedEvent}. */
  "run-started": RunStartedEvent;
  /** See {@linkcode RunReclaimedEvent}. */
  "run-reclaimed": RunReclaimedEvent;
  /** See {@linkcode RunCompletedEvent}. */
  "run-completed": RunCompletedEvent;
  /** See {@linkcode RunRetryingEvent}. */
  "run-retrying": RunRetryingEvent;
  /** See {@linkcode RunTimedOutEvent}. */
  "run-timed-out": RunTimedOutEvent;
  /** See {@linkcode RunSkippedEvent}. */
  "run-skipped": RunSkippedEvent;
  /** See {@linkcode ExecutionGuardContendedEvent}. */
  "execution-guard-contended": ExecutionGuardContendedEvent;
  /** See {@linkcode ExecutionGuardAcquireFailedEvent}. */
  "execution-guard-acquire-failed": ExecutionGuardAcquireFailedEvent;
  /** See {@linkcode ExecutionGuardLostEvent}. */
  "execution-guard-lost": ExecutionGuardLostEvent;
  /** See {@linkcode ExecutionGuardReleaseFailedEvent}. */
  "execution-guard-release-failed": ExecutionGuardReleaseFailedEvent;
  /** See {@linkcode StoreDegradedEvent}. */
  "store-degraded": StoreDegradedEvent;
  /** See {@linkcode StoreRecoveredEvent}. */
  "store-recovered": StoreRecoveredEvent;
  /** See {@linkcode FencingResetEvent}. */
  "fencing-reset": FencingResetEvent;
  /** See {@linkcode TerminalStateDeletedEvent}. */
  "terminal-state-deleted": TerminalStateDeletedEvent;
  /** See {@linkcode SchedulerStoppedEvent}. */
  "scheduler-stopped": SchedulerStoppedEvent;
}

/**
 * The detail of any scheduler event: `{ type, jobId, ...fields }`.
 *
 * @example
 * ```ts
 * import type { SchedulerEvent } from "@cloudiful/scheduler";
 * function summary(event: SchedulerEvent): string {
 *   return event.type === "run-completed" ? `${event.status}` : event.type;
 * }
 * ```
 */
export type SchedulerEvent = SchedulerEventMap[keyof SchedulerEventMap];

/**
 * Every event type, in the order of the SPEC's table (then the new ones).
 *
 * @example
 * ```ts
 * // mod.ts re-exports this file with `export type *`: the list is a type there.
 * import type { SCHEDULER_EVENT_TYPES } from "@cloudiful/scheduler";
 * type EventType = (typeof SCHEDULER_EVENT_TYPES)[number];
 * const first: EventType = "state-loaded";
 * ```
 */
export const SCHEDULER_EVENT_TYPES: readonly (keyof SchedulerEventMap)[] = [
  "state-loaded",
  "state-repaired",
  "state-reconciled",
  "trigger-emitted",
  "run-reclaimed",
  "run-started",
  "run-completed",
  "run-retrying",
  "run-timed-out",
  "run-skipped",
  "execution-guard-contended",
  "execution-guard-acquire-failed",
  "execution-guard-lost",
  "execution-guard-release-failed",
  "store-degraded",
  "store-recovered",
  "fencing-reset",
  "terminal-state-deleted",
  "scheduler-stopped",
];
