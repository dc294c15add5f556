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
import { isStorableMs, MAX_DATE_MS } from "../../schedule/_civil.ts";
import {
  nonOccurrenceFrom,
  type OccurrenceZone,
} from "../../schedule/_occurrences.ts";
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
   * several instances within the same second count as one. It must lie in
   * the years 0000–9999, the instants a job state can hold.
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
  // The slot is stored (by a guard, and as the record's `scheduledAt`): it
  // must be an instant a job state can hold (docs/stores.md, Limits of values).
  if (!isStorableMs(ms)) {
    throw new InvalidJobError(
      `triggerNow requestedAt ${describeValue(at)}${
        typeof at === "number" && Math.abs(at) <= MAX_DATE_MS
          ? ` (${new Date(at).toISOString()})`
          : ""
      } is outside the years 0000-9999 that a stored job state (RFC 3339) can hold`,
      { kind: InvalidJobKind.Other },
    );
  }
  return ms;
}

/**
 * The guard slot of a manual request: its `requestedAt`, moved on past the
 * occurrences of the schedule it coincides with, so a manual run never takes
 * (or is refused) a scheduled occurrence's slot (docs/run_controls.md). Every
 * instance with the same schedule computes the same instant, at a bounded
 * cost (see `nonOccurrenceFrom`).
 *
 * @throws {InvalidJobError} kind `interval-out-of-range` for an interval of
 * 1 ms (every millisecond is an occurrence, so no slot is free), kind `other`
 * when the slot would lie past 9999.
 */
export function manualSlotInstant(
  requestedAt: number,
  schedule: Schedule,
  zone: OccurrenceZone & { nextRunAt: number | null },
): number {
  const slot = nonOccurrenceFrom(schedule, requestedAt, zone);
  if (slot === undefined) {
    const every = schedule.kind === "interval" ? `${schedule.everyMs} ms` : "";
    throw new InvalidJobError(
      `triggerNow takes a slot that is no occurrence of the schedule, and an interval of ${every} leaves none (every millisecond is an occurrence); use an interval of 2 ms or more`,
      { kind: InvalidJobKind.IntervalOutOfRange },
    );
  }
  if (!isStorableMs(slot)) {
    throw new InvalidJobError(
      `triggerNow requestedAt ${
        new Date(requestedAt).toISOString()
      } is an occurrence of the schedule, and the first instant after it that is none (${
        new Date(slot).toISOString()
      }) is past the years 0000-9999 that a stored job state (RFC 3339) can hold`,
      { kind: InvalidJobKind.Other },
    );
  }
  return slot;
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
 * @throws {InvalidJobError} for invalid options, or when no slot is free
 * (see {@linkcode manualSlotInstant}).
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
  // Bad input is named before the state of the run is looked at.
  const scheduledAt = manualSlotInstant(
    requestedInstant(options),
    job.schedule,
    {
      timezone: zone.timezone,
      dst: zone.dst,
      nextRunAt: state.nextRunAt?.getTime() ?? null,
    },
  );
  const action = manualAction({
    ...context,
    overlapPolicy: job.overlapPolicy,
  });
  if (action !== "start" && action !== "queue") {
    throw triggerNowError(job.jobId, action);
  }
  const trigger: Trigger = {
    scheduledAt,
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
