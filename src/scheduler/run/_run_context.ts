/**
 * The context a task sees for one attempt of a run, built on every run.
 *
 * @module
 */

import type { ExecutionLease } from "../../guard/execution_guard.ts";
import type { Trigger } from "../rules/_decide.ts";
import type { RunContext } from "../job/task_context.ts";

/** The context a task sees for one attempt. */
export function runContext(
  options: {
    host: {
      readonly jobId: string;
      readonly timezone: string;
      /** The `Date` for a first attempt's `scheduledAt` (the engine's). */
      scheduledDate?(scheduledAt: number): Date;
    };
    trigger: Trigger;
    lease: ExecutionLease;
    attempt: number;
    jitterMs: number;
  },
): RunContext {
  const { host, trigger, lease } = options;
  // Built without object spreads (each allocates): this is on every run.
  const context: { -readonly [K in keyof RunContext]: RunContext[K] } = {
    jobId: host.jobId,
    scheduledAt: options.attempt === 1 && host.scheduledDate !== undefined
      ? host.scheduledDate(trigger.scheduledAt)
      : new Date(trigger.scheduledAt),
    catchUp: trigger.catchUp,
    timezone: host.timezone,
    triggerCount: trigger.triggerCount,
    attempt: options.attempt,
    jitterMs: options.jitterMs,
    manual: trigger.manual === true,
  };
  if (lease.fencingToken !== undefined) {
    context.fencingToken = lease.fencingToken;
  }
  if (trigger.replayed) context.replayed = true;
  return context;
}
