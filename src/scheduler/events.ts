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
} from "../constants.ts";
/**
 * The state a run starts from was loaded, created or repaired.
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
}

/**
 * A run finished and was recorded.
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
  /** `success`, `failed` or `cancelled`. */
  readonly status: RunStatus;
  /** The failure's message, or `null`. */
  readonly error: string | null;
}

/**
 * Occurrences were consumed without a run, once per decision: `missed` (skip
 * or catch-up-once passed over them while nothing was running) or `overlap`
 * (forbid dropped the trigger, or they came due while queue-one already had
 * a trigger waiting).
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
 * A run's lease was lost: its signal is aborted, the scheduler shuts down.
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
 * The exhausted job's stored state was deleted (`terminalStatePolicy: "delete"`).
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
  /** See {@linkcode RunSkippedEvent}. */
  "run-skipped": RunSkippedEvent;
  /** See {@linkcode ExecutionGuardContendedEvent}. */
  "execution-guard-contended": ExecutionGuardContendedEvent;
  /** See {@linkcode ExecutionGuardLostEvent}. */
  "execution-guard-lost": ExecutionGuardLostEvent;
  /** See {@linkcode ExecutionGuardReleaseFailedEvent}. */
  "execution-guard-release-failed": ExecutionGuardReleaseFailedEvent;
  /** See {@linkcode StoreDegradedEvent}. */
  "store-degraded": StoreDegradedEvent;
  /** See {@linkcode StoreRecoveredEvent}. */
  "store-recovered": StoreRecoveredEvent;
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

/** Every event type, in the order of the SPEC's table. */
export const SCHEDULER_EVENT_TYPES: readonly (keyof SchedulerEventMap)[] = [
  "state-loaded",
  "state-repaired",
  "state-reconciled",
  "trigger-emitted",
  "run-reclaimed",
  "run-started",
  "run-completed",
  "run-skipped",
  "execution-guard-contended",
  "execution-guard-lost",
  "execution-guard-release-failed",
  "store-degraded",
  "store-recovered",
  "terminal-state-deleted",
  "scheduler-stopped",
];
