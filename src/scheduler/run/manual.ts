/**
 * Manual runs (`SchedulerHandle.triggerNow()`): whether one may start, the
 * guard slot it takes, and the promises waiting for it.
 *
 * @module
 */

import {
  InvalidJobKind,
  OverlapPolicy,
  TriggerNowErrorKind,
} from "../../constants.ts";
import {
  describeValue,
  InvalidJobError,
  TriggerNowError,
} from "../../errors.ts";
import { checkOptions } from "../../_options.ts";
import type { OccurrenceZone } from "../../schedule/_occurrences.ts";
import type { Schedule } from "../../schedule/schedule.ts";
import type { Decision, Trigger } from "../rules/_decide.ts";
import type { RunRecord } from "../events/report.ts";
import type { Job } from "../job/job.ts";
import type { JobState } from "../../store/job_state.ts";

/**
 * Options of `SchedulerHandle.triggerNow()`.
 *
 * @example
 * ```ts
 * import type { TriggerNowOptions } from "@cloudiful/scheduler";
 * // Every instance that receives this request runs it at most once in all.
 * const options: TriggerNowOptions = { requestedAt: Date.parse("2026-04-03T09:15:00Z") };
 * ```
 */
export interface TriggerNowOptions {
  /**
   * Identifies the request across instances: instances pressed with the same
   * `requestedAt` (epoch ms or `Date`) take the same guard slot, so only one
   * of them runs it. Default: now, floored to the second, so presses on
   * several instances within the same second count as one.
   */
  requestedAt?: Date | number;
}

/** The granularity of the default `requestedAt`. */
const DEFAULT_WINDOW_MS = 1_000;

/** Reads `requestedAt`, or now floored to the second. */
export function requestedInstant(options: unknown): number {
  if (options === undefined) {
    return Math.floor(Date.now() / DEFAULT_WINDOW_MS) * DEFAULT_WINDOW_MS;
  }
  const { requestedAt: at } = checkOptions(options as TriggerNowOptions, {
    what: "triggerNow options",
    known: ["requestedAt"],
  });
  if (at === undefined) return requestedInstant(undefined);
  const ms = at instanceof Date ? at.getTime() : at;
  if (typeof ms !== "number" || !Number.isSafeInteger(ms)) {
    throw new InvalidJobError(
      `triggerNow requestedAt must be a valid Date or integer epoch milliseconds, got ${
        describeValue(at)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  return ms;
}

/** Whether `instant` is an occurrence of the schedule. */
function isOccurrence(
  instant: number,
  schedule: Schedule,
  zone: OccurrenceZone & { nextRunAt: number | null },
): boolean {
  switch (schedule.kind) {
    case "interval": {
      const next = zone.nextRunAt;
      return next !== null && (instant - next) % schedule.everyMs === 0;
    }
    case "at-times":
      return schedule.times.some((time) => time.getTime() === instant);
    case "cron":
      return schedule.cron.nextAfter(
        new Date(instant - 1),
        zone.timezone,
        zone.dst,
      )?.getTime() === instant;
  }
}

/**
 * The guard slot of a manual request: its `requestedAt`, moved on by a
 * millisecond at a time while it coincides with an occurrence of the
 * schedule, so a manual run never takes (or is refused) a scheduled
 * occurrence's slot. Every instance with the same schedule computes the same
 * instant.
 */
export function manualSlotInstant(
  requestedAt: number,
  schedule: Schedule,
  zone: OccurrenceZone & { nextRunAt: number | null },
): number {
  let instant = requestedAt;
  while (isOccurrence(instant, schedule, zone)) instant++;
  return instant;
}

/** Everything that decides whether a manual run may start now. */
export interface ManualInput {
  readonly overlapPolicy: OverlapPolicy;
  readonly activeRuns: number;
  readonly queued: boolean;
  readonly paused: boolean;
  readonly stopping: boolean;
}

/**
 * Start, queue, or refuse (with the reason) a manual run. It obeys the
 * overlap policy like a scheduled trigger, and starts nothing while paused or
 * stopping.
 */
export function manualAction(
  input: ManualInput,
): "start" | "queue" | TriggerNowErrorKind {
  if (input.stopping) return TriggerNowErrorKind.Stopping;
  if (input.paused) return TriggerNowErrorKind.Paused;
  if (input.overlapPolicy === OverlapPolicy.AllowParallel) return "start";
  if (input.activeRuns === 0 && !input.queued) return "start";
  if (input.overlapPolicy === OverlapPolicy.QueueOne && !input.queued) {
    return "queue";
  }
  return TriggerNowErrorKind.Overlap;
}

/**
 * A manual run's trigger and whether it starts now or is queued.
 *
 * @throws {TriggerNowError} when it may not run now.
 * @throws {InvalidJobError} for invalid options.
 */
export function planManualRun(
  options: unknown,
  context: Omit<ManualInput, "overlapPolicy"> & {
    readonly job: Pick<Job<unknown>, "jobId" | "schedule" | "overlapPolicy">;
    readonly zone: OccurrenceZone;
    readonly state: Pick<JobState, "triggerCount" | "nextRunAt">;
  },
): { trigger: Trigger; action: "start" | "queue" } {
  const { job, zone, state } = context;
  const requestedAt = requestedInstant(options);
  const action = manualAction({
    ...context,
    overlapPolicy: job.overlapPolicy,
  });
  if (action !== "start" && action !== "queue") {
    throw triggerNowError(job.jobId, action);
  }
  const trigger: Trigger = {
    scheduledAt: manualSlotInstant(requestedAt, job.schedule, {
      timezone: zone.timezone,
      dst: zone.dst,
      nextRunAt: state.nextRunAt?.getTime() ?? null,
    }),
    catchUp: false,
    triggerCount: state.triggerCount,
    manual: true,
  };
  return { trigger, action };
}

/**
 * A decision taken with no run active, applied after its pre-run save: if a
 * manual run started meanwhile, the overlap policy now applies to the
 * decision's trigger as it would have at decision time (`forbid` drops it,
 * `queue-one` queues it unless a trigger already waits). Otherwise the
 * decision is returned unchanged.
 */
export function overlapAfterManual(
  decision: Decision,
  now: Pick<ManualInput, "overlapPolicy" | "activeRuns" | "queued">,
): Decision {
  const { trigger, skipped } = decision;
  if (
    decision.action !== "start" || trigger === undefined ||
    now.activeRuns === 0 || now.overlapPolicy === OverlapPolicy.AllowParallel
  ) {
    return decision;
  }
  if (now.overlapPolicy === OverlapPolicy.QueueOne && !now.queued) {
    return {
      ...decision,
      action: "queue",
      skipped: skipped && { ...skipped, reason: "overlap" },
    };
  }
  // Everything the decision consumed goes without a run; the trigger is the
  // latest of it.
  return {
    ...decision,
    action: "none",
    skipped: {
      count: (skipped?.count ?? 0) + 1,
      scheduledAt: trigger.scheduledAt,
      reason: "overlap",
    },
  };
}

const MESSAGES: Record<TriggerNowErrorKind, string> = {
  "not-running": "no run() of this scheduler is active",
  paused: "the scheduler is paused",
  stopping: "the scheduler is stopping",
  overlap: "a run is active and the overlap policy refuses another",
  contended: "the execution guard gave this manual request's slot to " +
    "another instance (or it already ran)",
  failed: "run() failed before the manual run started",
};

/** The error of a refused manual run. */
export function triggerNowError(
  jobId: string | undefined,
  kind: TriggerNowErrorKind,
  cause?: unknown,
): TriggerNowError {
  const job = jobId === undefined ? "" : ` of job ${JSON.stringify(jobId)}`;
  return new TriggerNowError(
    `triggerNow${job} did not run: ${MESSAGES[kind]}`,
    {
      kind,
      cause,
    },
  );
}

interface Waiter {
  resolve(record: RunRecord): void;
  reject(error: TriggerNowError): void;
  last?: RunRecord;
}

/** The promises of manual runs not yet over, by trigger. */
export class ManualRequests {
  readonly #jobId: string;
  readonly #waiting = new Map<Trigger, Waiter>();

  constructor(jobId: string) {
    this.#jobId = jobId;
  }

  /** A promise for the record of `trigger`'s last attempt. */
  add(trigger: Trigger): Promise<RunRecord> {
    return new Promise<RunRecord>((resolve, reject) => {
      this.#waiting.set(trigger, { resolve, reject });
    });
  }

  /** An attempt of `trigger` was recorded. */
  recorded(trigger: Trigger, record: RunRecord): void {
    const waiter = this.#waiting.get(trigger);
    if (waiter !== undefined) waiter.last = record;
  }

  /**
   * The run of `trigger` is over: resolves with its last record, or rejects
   * with `kind` when no attempt was recorded.
   */
  over(trigger: Trigger, kind: TriggerNowErrorKind, cause?: unknown): void {
    const waiter = this.#waiting.get(trigger);
    if (waiter === undefined) return;
    this.#waiting.delete(trigger);
    if (waiter.last !== undefined) waiter.resolve(waiter.last);
    else waiter.reject(triggerNowError(this.#jobId, kind, cause));
  }

  /** `run()` is ending: every request still waiting is over. */
  endAll(kind: TriggerNowErrorKind, cause?: unknown): void {
    for (const trigger of [...this.#waiting.keys()]) {
      this.over(trigger, kind, cause);
    }
  }
}
