/**
 * Builders of the event details the engine and its runs emit about a
 * trigger, so that each field is filled the same way everywhere.
 *
 * @module
 */

import { ExecutionGuardErrorKind } from "../../constants.ts";
import {
  describeThrown,
  ExecutionGuardError,
  isInstance,
} from "../../errors.ts";
import type { Trigger } from "../rules/_decide.ts";
import type {
  ExecutionGuardAcquireFailedEvent,
  ExecutionGuardContendedEvent,
  ExecutionGuardLostEvent,
  ExecutionGuardReleaseFailedEvent,
} from "../events/guard_events.ts";
import type {
  RunCompletedEvent,
  RunRetryingEvent,
  RunStartedEvent,
  RunTimedOutEvent,
  TriggerEmittedEvent,
} from "../events/run_events.ts";
import type { CompletedRun } from "../events/report.ts";

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

/**
 * `attempt` (only from 2), `manual` and `replayed` (only when set), as
 * events carry them.
 */
function attemptFields(
  attempt: number,
  flags: { manual?: boolean; replayed?: boolean },
): { attempt?: number; manual?: true; replayed?: true } {
  const fields: { attempt?: number; manual?: true; replayed?: true } = {};
  if (attempt > 1) fields.attempt = attempt;
  if (flags.manual) fields.manual = true;
  if (flags.replayed) fields.replayed = true;
  return fields;
}

/** `run-started`, with the lease's fencing token when there is one. */
export function runStartedEvent(
  jobId: string,
  trigger: Trigger,
  options: { fencingToken: bigint | undefined; attempt: number },
): RunStartedEvent {
  const event: RunStartedEvent = {
    ...triggerEvent("trigger-emitted", jobId, trigger),
    type: "run-started",
  };
  const { fencingToken } = options;
  return {
    ...event,
    ...(fencingToken === undefined ? {} : { fencingToken }),
    ...attemptFields(options.attempt, trigger),
  };
}

/** `run-retrying`: `attempt` is the attempt about to be made. */
export function runRetryingEvent(
  jobId: string,
  trigger: Trigger,
  retry: { attempt: number; delayMs: number; error: string },
): RunRetryingEvent {
  return {
    ...triggerEvent("trigger-emitted", jobId, trigger),
    type: "run-retrying",
    attempt: retry.attempt,
    delayMs: retry.delayMs,
    error: retry.error,
    ...(trigger.manual ? { manual: true } : {}),
  };
}

/** `run-timed-out`. */
export function runTimedOutEvent(
  jobId: string,
  trigger: Trigger,
  timeout: { attempt: number; timeoutMs: number },
): RunTimedOutEvent {
  return {
    ...triggerEvent("trigger-emitted", jobId, trigger),
    type: "run-timed-out",
    attempt: timeout.attempt,
    timeoutMs: timeout.timeoutMs,
    ...(trigger.manual ? { manual: true } : {}),
  };
}

/**
 * `execution-guard-release-failed`, for what the release threw: its
 * message, and its kind when it is an `ExecutionGuardError`.
 */
export function releaseFailedEvent(
  jobId: string,
  trigger: Trigger,
  thrown: unknown,
): ExecutionGuardReleaseFailedEvent {
  return {
    ...triggerEvent("trigger-emitted", jobId, trigger),
    type: "execution-guard-release-failed",
    error: describeThrown(thrown),
    errorKind: isInstance(thrown, ExecutionGuardError)
      ? thrown.kind
      : ExecutionGuardErrorKind.Unknown,
  };
}

/** `execution-guard-acquire-failed`, for the guard's `failure`. */
export function acquireFailedEvent(
  jobId: string,
  trigger: Trigger,
  failure: ExecutionGuardError,
): ExecutionGuardAcquireFailedEvent {
  return {
    ...triggerEvent("trigger-emitted", jobId, trigger),
    type: "execution-guard-acquire-failed",
    error: failure.message,
    errorKind: failure.kind,
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
    startedAt: new Date(run.startedAt),
    finishedAt: new Date(run.finishedAt),
    ...attemptFields(run.attempt, run),
  };
}
