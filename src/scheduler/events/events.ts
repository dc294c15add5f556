/**
 * The events a scheduler emits, as `CustomEvent`s on the scheduler and as
 * calls to its observer: the map of every type to its detail. Every detail is
 * `{ type, jobId, ...fields }`, with instants as `Date`s; the details live in
 * `state_events.ts`, `run_events.ts` and `guard_events.ts`.
 *
 * @module
 */

import type {
  StateLoadedEvent,
  StateReconciledEvent,
  StateRepairedEvent,
  StoreDegradedEvent,
  StoreRecoveredEvent,
  TerminalStateDeletedEvent,
} from "./state_events.ts";
import type {
  RunCompletedEvent,
  RunReclaimedEvent,
  RunRetryingEvent,
  RunSkippedEvent,
  RunStartedEvent,
  RunTimedOutEvent,
  SchedulerStoppedEvent,
  TriggerEmittedEvent,
} from "./run_events.ts";
import type {
  ExecutionGuardAcquireFailedEvent,
  ExecutionGuardContendedEvent,
  ExecutionGuardDataDamagedEvent,
  ExecutionGuardLostEvent,
  ExecutionGuardReleaseFailedEvent,
  FencingResetEvent,
} from "./guard_events.ts";

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
  /** See {@linkcode ExecutionGuardDataDamagedEvent}. */
  "execution-guard-data-damaged": ExecutionGuardDataDamagedEvent;
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
 * Every event type, in the order of the README's "Events and observers" table.
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
  "execution-guard-data-damaged",
  "execution-guard-lost",
  "execution-guard-release-failed",
  "store-degraded",
  "store-recovered",
  "fencing-reset",
  "terminal-state-deleted",
  "scheduler-stopped",
];
