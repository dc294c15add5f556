/**
 * Builders of the event details the engine and its runs emit about a
 * trigger, so that each field is filled the same way everywhere.
 *
 * @module
 */

import type { Trigger } from "./decide.ts";
import type {
  ExecutionGuardAcquireFailedEvent,
  ExecutionGuardContendedEvent,
  ExecutionGuardLostEvent,
  ExecutionGuardReleaseFailedEvent,
  RunCompletedEvent,
  RunStartedEvent,
  TriggerEmittedEvent,
} from "./events.ts";
import type { CompletedRun } from "./report.ts";

type TriggerEventType =
  | TriggerEmittedEvent["type"]
  | ExecutionGuardContendedEvent["type"]
  | ExecutionGuardLostEvent["type"];

/** An event whose fields are exactly the trigger's. */
export function triggerEvent<T extends TriggerEventType>(
  type: T,
  jobId: string,
  trigger: Trigger,
): {
  type: T;
  jobId: string;
  scheduledAt: Date;
  catchUp: boolean;
  triggerCount: number;
} {
  return {
    type,
    jobId,
    scheduledAt: new Date(trigger.scheduledAt),
    catchUp: trigger.catchUp,
    triggerCount: trigger.triggerCount,
  };
}

/** `run-started`, with the lease's fencing token when there is one. */
export function runStartedEvent(
  jobId: string,
  trigger: Trigger,
  fencingToken: bigint | undefined,
): RunStartedEvent {
  const event = { ...triggerEvent("trigger-emitted", jobId, trigger) };
  return fencingToken === undefined
    ? { ...event, type: "run-started" }
    : { ...event, type: "run-started", fencingToken };
}

/** `execution-guard-release-failed`. */
export function releaseFailedEvent(
  jobId: string,
  trigger: Trigger,
  error: string,
): ExecutionGuardReleaseFailedEvent {
  return {
    ...triggerEvent("trigger-emitted", jobId, trigger),
    type: "execution-guard-release-failed",
    error,
  };
}

/** `execution-guard-acquire-failed`. */
export function acquireFailedEvent(
  jobId: string,
  trigger: Trigger,
  error: string,
): ExecutionGuardAcquireFailedEvent {
  return {
    ...releaseFailedEvent(jobId, trigger, error),
    type: "execution-guard-acquire-failed",
  };
}

/** `run-completed` of a recorded run. */
export function runCompletedEvent(
  jobId: string,
  run: CompletedRun,
): RunCompletedEvent {
  return {
    type: "run-completed",
    jobId,
    scheduledAt: new Date(run.scheduledAt),
    catchUp: run.catchUp,
    triggerCount: run.triggerCount,
    status: run.status,
    error: run.error,
  };
}
