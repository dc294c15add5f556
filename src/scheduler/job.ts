/**
 * A job: an id, a schedule, explicit dependencies, a task and its policies.
 *
 * Runtime-neutral.
 *
 * @module
 */

import {
  InvalidJobKind,
  MissedRunPolicy,
  OverlapPolicy,
} from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import { isOwnSchedule, Schedule } from "../schedule/schedule.ts";
import { CronSchedule } from "../schedule/cron_schedule.ts";
import { Task } from "./task.ts";
import { Delivery } from "./delivery.ts";

const MAX_JOB_ID_LENGTH = 512;
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

function invalid(message: string): InvalidJobError {
  return new InvalidJobError(message, { kind: InvalidJobKind.Other });
}

function validateJobId(jobId: unknown): string {
  if (typeof jobId !== "string" || jobId === "") {
    throw invalid(
      `job id must be a non-empty string, got ${describeValue(jobId)}`,
    );
  }
  if (jobId.length > MAX_JOB_ID_LENGTH) {
    throw invalid(
      `job id must be at most ${MAX_JOB_ID_LENGTH} characters, got ${jobId.length}: ${
        JSON.stringify(jobId.slice(0, 40))
      }…`,
    );
  }
  if (CONTROL_CHARACTER.test(jobId)) {
    throw invalid(
      `job id must not contain control characters, got ${
        JSON.stringify(jobId)
      }`,
    );
  }
  return jobId;
}

/**
 * A schedule from the `Schedule` constructors is kept as is; a hand-built
 * object gets the same checks and is replaced by a validated copy (sorted,
 * frozen), so later changes to the caller's object cannot reach the job.
 */
function validateSchedule(schedule: unknown): Schedule {
  if (isOwnSchedule(schedule)) return schedule as Schedule;
  const candidate = schedule as Schedule | undefined;
  switch (candidate?.kind) {
    case "interval":
      return Schedule.interval(candidate.everyMs);
    case "at-times":
      return Schedule.atTimes(candidate.times);
    case "cron":
      return Schedule.cron(
        candidate.cron instanceof CronSchedule
          ? candidate.cron
          : String(candidate.cron),
      );
  }
  throw invalid(
    `schedule must come from Schedule.interval, Schedule.atTimes or Schedule.cron, got ${
      describeValue(schedule)
    }`,
  );
}

function validateMaxRuns(maxRuns: unknown): number {
  if (
    typeof maxRuns !== "number" || !Number.isSafeInteger(maxRuns) || maxRuns < 0
  ) {
    throw invalid(
      `maxRuns must be a non-negative integer, got ${describeValue(maxRuns)}`,
    );
  }
  return maxRuns;
}

function validateMember<T extends string>(
  name: string,
  values: Readonly<Record<string, T>>,
  value: unknown,
): T {
  const allowed = Object.values(values);
  if (!allowed.includes(value as T)) {
    throw invalid(
      `${name} must be one of ${
        allowed.map((v) => JSON.stringify(v)).join(", ")
      }, got ${describeValue(value)}`,
    );
  }
  return value as T;
}

/** A copy of a validated job with some fields replaced (already validated). */
function withChanges<D>(job: Job<D>, changes: Partial<JobFields<D>>): Job<D> {
  // Job has no private members, so a plain copy of its fields is a Job.
  return Object.freeze(
    Object.assign(Object.create(Job.prototype) as Job<D>, job, changes),
  );
}

interface JobFields<D> {
  jobId: string;
  schedule: Schedule;
  deps: D;
  task: Task<D>;
  maxRuns: number | undefined;
  missedRunPolicy: MissedRunPolicy;
  overlapPolicy: OverlapPolicy;
  delivery: Delivery;
}

/**
 * One logical job. Immutable: each builder returns a new `Job`. Every input is
 * validated at once; invalid ones throw {@linkcode InvalidJobError}
 * synchronously, never later in `run()`.
 *
 * @example A job with explicit dependencies
 * ```ts
 * import { Job, MissedRunPolicy, Schedule, Task } from "@cloudiful/scheduler";
 * const job = new Job(
 *   "refresh-prices",
 *   Schedule.cron("*\/5 * * * *"),
 *   { endpoint: "https://example.com/prices" },
 *   Task.fromAsync(async ({ deps, signal }) => {
 *     await fetch(deps.endpoint, { signal }).catch(() => {});
 *   }),
 * ).withMissedRunPolicy(MissedRunPolicy.Skip).withMaxRuns(100);
 * console.log(job.jobId, job.maxRuns); // refresh-prices 100
 * ```
 */
export class Job<D = undefined> {
  /** Identifies the job's persisted state and execution leases. */
  readonly jobId: string;
  /** When the job fires. */
  readonly schedule: Schedule;
  /** Handed to every run as `ctx.deps`. */
  readonly deps: D;
  /** What each run does. */
  readonly task: Task<D>;
  /** Cap on consumed occurrences; `undefined` = unbounded. */
  readonly maxRuns: number | undefined;
  /** What to do with occurrences that came due while nothing could run. */
  readonly missedRunPolicy: MissedRunPolicy;
  /** What to do with a trigger while a run is active. */
  readonly overlapPolicy: OverlapPolicy;
  /** `at-most-once` (default) or `at-least-once`; see {@linkcode Delivery}. */
  readonly delivery: Delivery;

  /**
   * Builds a job with explicit dependencies; policies take their defaults
   * (`catch-up-once`, `forbid`, no `maxRuns`).
   *
   * @param jobId Non-empty, at most 512 characters, no control characters.
   * @param schedule From `Schedule.interval`, `Schedule.atTimes` or `Schedule.cron`.
   * @param deps Any value; passed to every run.
   * @param task From `Task.fromAsync`, `Task.fromSync` or `Task.fromWorker`.
   * @throws {InvalidJobError} for any invalid argument.
   */
  constructor(jobId: string, schedule: Schedule, deps: D, task: Task<D>) {
    const fields = Job.#validate({
      jobId,
      schedule,
      deps,
      task,
      maxRuns: undefined,
      missedRunPolicy: MissedRunPolicy.CatchUpOnce,
      overlapPolicy: OverlapPolicy.Forbid,
      delivery: Delivery.AtMostOnce,
    });
    this.jobId = fields.jobId;
    this.schedule = fields.schedule;
    this.deps = fields.deps;
    this.task = fields.task;
    this.maxRuns = fields.maxRuns;
    this.missedRunPolicy = fields.missedRunPolicy;
    this.overlapPolicy = fields.overlapPolicy;
    this.delivery = fields.delivery;
    Object.freeze(this);
  }

  /**
   * A job whose task takes no dependencies.
   *
   * @example
   * ```ts
   * import { Job, Schedule, Task } from "@cloudiful/scheduler";
   * const job = Job.withoutDeps("tick", Schedule.interval(1000), Task.fromSync(() => {}));
   * console.log(job.deps); // undefined
   * ```
   */
  static withoutDeps(
    jobId: string,
    schedule: Schedule,
    task: Task<undefined>,
  ): Job<undefined> {
    return new Job(jobId, schedule, undefined, task);
  }

  /**
   * A copy that consumes at most `n` occurrences (0 ends at once).
   *
   * @throws {InvalidJobError} kind `other` unless `n` is a non-negative integer.
   *
   * @example
   * ```ts
   * import { Job, Schedule, Task } from "@cloudiful/scheduler";
   * const job = Job.withoutDeps("a", Schedule.interval(10), Task.fromSync(() => {})).withMaxRuns(3);
   * console.log(job.maxRuns); // 3
   * ```
   */
  withMaxRuns(n: number): Job<D> {
    return withChanges(this, { maxRuns: validateMaxRuns(n) });
  }

  /**
   * A copy with another missed-run policy.
   *
   * @throws {InvalidJobError} kind `other` for an unknown policy.
   *
   * @example
   * ```ts
   * import { Job, Schedule, Task } from "@cloudiful/scheduler";
   * const job = Job.withoutDeps("a", Schedule.interval(10), Task.fromSync(() => {}))
   *   .withMissedRunPolicy("replay-all");
   * console.log(job.missedRunPolicy); // replay-all
   * ```
   */
  withMissedRunPolicy(p: MissedRunPolicy): Job<D> {
    return withChanges(this, {
      missedRunPolicy: validateMember("missedRunPolicy", MissedRunPolicy, p),
    });
  }

  /**
   * A copy with another overlap policy.
   *
   * @throws {InvalidJobError} kind `other` for an unknown policy.
   *
   * @example
   * ```ts
   * import { Job, Schedule, Task } from "@cloudiful/scheduler";
   * const job = Job.withoutDeps("a", Schedule.interval(10), Task.fromSync(() => {}))
   *   .withOverlapPolicy("queue-one");
   * console.log(job.overlapPolicy); // queue-one
   * ```
   */
  withOverlapPolicy(p: OverlapPolicy): Job<D> {
    return withChanges(this, {
      overlapPolicy: validateMember("overlapPolicy", OverlapPolicy, p),
    });
  }

  /**
   * A copy with another delivery guarantee. `at-least-once` needs a guard
   * with an in-flight ledger (the Valkey and Deno KV guards, or the default
   * single-instance guard, whose ledger lives in memory); `run()` rejects
   * with `InvalidJobError` otherwise.
   *
   * @throws {InvalidJobError} kind `other` for an unknown delivery.
   *
   * @example
   * ```ts
   * import { Job, Schedule, Task } from "@cloudiful/scheduler";
   * const job = Job.withoutDeps("a", Schedule.interval(10), Task.fromSync(() => {}))
   *   .withDelivery("at-least-once");
   * console.log(job.delivery); // at-least-once
   * ```
   */
  withDelivery(d: Delivery): Job<D> {
    return withChanges(this, {
      delivery: validateMember("delivery", Delivery, d),
    });
  }

  static #validate<D>(fields: JobFields<D>): JobFields<D> {
    validateJobId(fields.jobId);
    const schedule = validateSchedule(fields.schedule);
    if (!(fields.task instanceof Task)) {
      throw invalid(
        `task must come from Task.fromAsync, Task.fromSync or Task.fromWorker, got ${
          describeValue(fields.task)
        }`,
      );
    }
    if (fields.task.kind === "worker") {
      // Found now rather than as a panic at every run.
      try {
        structuredClone(fields.deps);
      } catch (cause) {
        throw invalid(
          `the deps of a worker task must be structured-cloneable (they are copied into the worker), but ${
            describeValue(fields.deps)
          } is not: ${(cause as Error).message}`,
        );
      }
    }
    return { ...fields, schedule };
  }
}
