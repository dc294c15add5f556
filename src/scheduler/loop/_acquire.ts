/**
 * Asking the execution guard for a trigger's slot: the answer checked, a
 * lease granted to a stopping scheduler given back, and every outcome
 * reported as the README's "Several instances" section says.
 *
 * @module
 */

import {
  ExecutionGuardErrorKind,
  TriggerNowErrorKind,
} from "../../constants.ts";
import {
  describeThrown,
  ExecutionGuardError,
  isInstance,
  type SchedulerError,
} from "../../errors.ts";
import type {
  ExecutionGuardAcquire,
  ExecutionLease,
} from "../../guard/execution_guard.ts";
import {
  acquireFailedEvent,
  releaseFailedEvent,
  triggerEvent,
} from "../run/_event_details.ts";
import type { Trigger } from "../rules/_decide.ts";
import type { RunHost } from "../run/_run_execution.ts";

/** What acquiring needs from the engine. */
export interface AcquireHost
  extends Pick<RunHost<unknown>, "jobId" | "guard" | "listens" | "dispatch"> {
  /** Whether a stop was requested or `run()` is failing. */
  stopping(): boolean;
  /** Makes `error` the reason `run()` fails. */
  fail(error: SchedulerError): void;
  /** Acquires in place of `guard.acquire` (at-least-once delivery). */
  readonly acquire?: (trigger: Trigger) => Promise<ExecutionGuardAcquire>;
  /** Keeps a data error's message as the job's `lastError`. */
  readonly damaged?: (message: string) => void;
}

/** `error` as the guard error `run()` fails with. */
export function toGuardError(
  error: unknown,
  jobId: string,
): ExecutionGuardError {
  if (isInstance(error, ExecutionGuardError)) return error;
  return new ExecutionGuardError(
    `execution guard acquire failed for job ${JSON.stringify(jobId)}: ${
      describeThrown(error)
    }`,
    { kind: ExecutionGuardErrorKind.Unknown, cause: error },
  );
}

/** Gives back a lease that will not be used. */
async function releaseUnused(
  host: AcquireHost,
  trigger: Trigger,
  lease: ExecutionLease,
): Promise<void> {
  try {
    await host.guard.release(lease);
  } catch (error) {
    if (host.listens("execution-guard-release-failed")) {
      host.dispatch(
        releaseFailedEvent(host.jobId, trigger, error),
      );
    }
  }
}

/**
 * Asks the guard for `trigger`'s slot. Resolves with the lease, or with why
 * nothing may start: `contended` (event emitted; also for damaged data,
 * kind `data`, asked again once, then reported and kept as lastError),
 * `stopping` (a lease granted meanwhile was given back) or `failed` (the
 * guard threw otherwise or answered nonsense: `run()` fails with an
 * `ExecutionGuardError`).
 */
export async function acquireSlot(
  host: AcquireHost,
  trigger: Trigger,
): Promise<ExecutionLease | TriggerNowErrorKind> {
  const { jobId } = host;
  const scheduledAt = new Date(trigger.scheduledAt);
  let answer: ExecutionGuardAcquire | undefined;
  let answered = false;
  // A data error is asked again once: the guards set damaged data aside
  // (docs/recovery.md), so the second grant usually succeeds.
  for (let attempt = 0; attempt < 2 && !answered; attempt++) {
    try {
      answer = await (host.acquire?.(trigger) ??
        host.guard.acquire({ jobId, scheduledAt }));
      answered = true;
    } catch (error) {
      const failure = toGuardError(error, jobId);
      if (failure.kind !== ExecutionGuardErrorKind.Data) {
        host.fail(failure);
        return TriggerNowErrorKind.Failed;
      }
      // Reported every time, and kept as lastError: a job whose grants all
      // fail never looks healthy.
      host.damaged?.(failure.message);
      if (host.listens("execution-guard-acquire-failed")) {
        host.dispatch(acquireFailedEvent(jobId, trigger, failure));
      }
    }
  }
  if (!answered) {
    // Still unreadable: the lease may be another instance's, and not
    // running the occurrence is the only answer that never runs it twice;
    // nothing about it says later occurrences are unreadable too.
    return TriggerNowErrorKind.Contended;
  }
  if (answer?.kind === "acquired" && host.stopping()) {
    // Stopped while the lease was being acquired: nothing new starts.
    await releaseUnused(host, trigger, answer.lease);
    return TriggerNowErrorKind.Stopping;
  }
  if (answer?.kind === "contended") {
    if (host.listens("execution-guard-contended")) {
      const event = triggerEvent("execution-guard-contended", jobId, trigger);
      const note = answer.note;
      host.dispatch(typeof note === "string" ? { ...event, note } : event);
    }
    return TriggerNowErrorKind.Contended;
  }
  const lease = answer?.kind === "acquired" ? answer.lease : undefined;
  if (
    typeof lease !== "object" || lease === null ||
    typeof lease.token !== "string" || typeof lease.leaseKey !== "string"
  ) {
    host.fail(
      new ExecutionGuardError(
        `execution guard acquire for job ${
          JSON.stringify(jobId)
        } answered neither "acquired" with a lease (token and leaseKey strings) nor "contended"`,
        { kind: ExecutionGuardErrorKind.Data },
      ),
    );
    return TriggerNowErrorKind.Failed;
  }
  return lease;
}
