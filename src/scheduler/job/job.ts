/**
 * A job: an id, a schedule, explicit dependencies, a task and its policies.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { MissedRunPolicy, OverlapPolicy } from "../../constants.ts";
import { describeValue, invalid } from "../../errors.ts";
import { type Schedule, toSchedule } from "../../schedule/schedule.ts";
import { Task } from "./task.ts";
import { validateJobId } from "../../_job_id.ts";
import { type RetryPolicy, validateRetryPolicy } from "./retry.ts";
import { validateJitter } from "./_jitter.ts";
import { Delivery } from "./delivery.ts";

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

function validateRunTimeout(ms: unknown): number {
  if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms <= 0) {
    throw invalid(
      `withRunTimeout ms must be a positive integer, got ${describeValue(ms)}`,
    );
  }
  return ms;
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
  runTimeoutMs: number | undefined;
  retryPolicy: RetryPolicy | undefined;
  jitterMaxMs: number;
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
  /** Each attempt's time limit; `undefined` = none. */
  readonly runTimeoutMs: number | undefined;
  /** How a failed run is retried; `undefined` = no retry. */
  readonly retryPolicy: RetryPolicy | undefined;
  /** Each occurrence is delayed by a deterministic amount in `[0, jitterMaxMs)`. */
  readonly jitterMaxMs: number;
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
      runTimeoutMs: undefined,
      retryPolicy: undefined,
      jitterMaxMs: 0,
      delivery: Delivery.AtMostOnce,
    });
    this.jobId = fields.jobId;
    this.schedule = fields.schedule;
    this.deps = fields.deps;
    this.task = fields.task;
    this.maxRuns = fields.maxRuns;
    this.missedRunPolicy = fields.missedRunPolicy;
    this.overlapPolicy = fields.overlapPolicy;
    this.runTimeoutMs = fields.runTimeoutMs;
    this.retryPolicy = fields.retryPolicy;
    this.jitterMaxMs = fields.jitterMaxMs;
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
   * A copy whose runs have a time limit: when an attempt runs longer than
   * `ms`, its `signal` aborts with a `DOMException` named `TimeoutError` and
   * a `run-timed-out` event is emitted. The attempt is recorded with status
   * `timed-out` once the task settles; a task that ignores its signal keeps
   * running (and keeps its lease) until it settles. With `withRetry`, the
   * limit applies to each attempt, and a timed-out attempt is retried.
   *
   * @param ms A positive integer (longer limits are slept in chunks of at
   * most an hour).
   * @throws {InvalidJobError} kind `other` unless `ms` is a positive integer.
   *
   * @example
   * ```ts
   * import { Job, Schedule, Task } from "@cloudiful/scheduler";
   * const job = Job.withoutDeps(
   *   "export",
   *   Schedule.cron("0 * * * *"),
   *   Task.fromAsync(async ({ signal }) => {
   *     await fetch("https://example.com/export", { signal }).catch(() => {});
   *   }),
   * ).withRunTimeout(30_000);
   * console.log(job.runTimeoutMs); // 30000
   * ```
   */
  withRunTimeout(ms: number): Job<D> {
    return withChanges(this, { runTimeoutMs: validateRunTimeout(ms) });
  }

  /**
   * A copy that retries a `failed` or `timed-out` run on the same occurrence
   * (same `scheduledAt`, same lease, kept renewed), up to `attempts` attempts
   * in all, waiting `backoffMs` before each retry. Every attempt is recorded
   * and sees its number in `ctx.run.attempt`; `maxRuns` still counts
   * occurrences. Unless overlap is `allow-parallel`, a retry that would start
   * at or after the next occurrence is not made (that attempt's record
   * stands); cancelled runs and stopping schedulers are not retried.
   *
   * @param policy `attempts` (a positive integer, the first attempt
   * included) and `backoffMs` (an array of integer delays from 0 to one day,
   * the last one repeating, or a function of the attempt about to start).
   * @throws {InvalidJobError} kind `other` for an invalid policy.
   *
   * @example Up to three attempts, 1 s then 10 s apart
   * ```ts
   * import { Job, Schedule, Task } from "@cloudiful/scheduler";
   * const job = Job.withoutDeps("sync", Schedule.interval(60_000), Task.fromSync(() => {}))
   *   .withRetry({ attempts: 3, backoffMs: [1_000, 10_000] });
   * console.log(job.retryPolicy?.attempts); // 3
   * ```
   */
  withRetry(policy: RetryPolicy): Job<D> {
    return withChanges(this, { retryPolicy: validateRetryPolicy(policy) });
  }

  /**
   * A copy whose occurrences are each delayed by a pseudo-random amount in
   * `[0, maxMs)`, derived from a hash of the job id and the occurrence's
   * nominal instant: every instance computes the same delay, so an execution
   * guard still sees one slot. `scheduledAt` stays the nominal instant; the
   * run sees the delay in `ctx.run.jitterMs`. Use it to spread jobs that
   * share a schedule such as `0 * * * *`.
   *
   * @param maxMs An integer from 0 (no jitter) to one day.
   * @throws {InvalidJobError} kind `other` for any other value, and for an
   * interval schedule when `maxMs` is not smaller than its interval.
   *
   * @example
   * ```ts
   * import { Job, Schedule, Task } from "@cloudiful/scheduler";
   * const job = Job.withoutDeps("hourly", Schedule.cron("0 * * * *"), Task.fromSync(() => {}))
   *   .withJitter(5 * 60_000);
   * console.log(job.jitterMaxMs); // 300000
   * ```
   */
  withJitter(maxMs: number): Job<D> {
    const jitterMaxMs = validateJitter(maxMs);
    // A delay as long as the interval would let an occurrence's jittered
    // instant pass the next one's: occurrences would merge or be lost.
    if (
      this.schedule.kind === "interval" && jitterMaxMs >= this.schedule.everyMs
    ) {
      throw invalid(
        `withJitter maxMs must be smaller than the interval (${this.schedule.everyMs} ms), got ${jitterMaxMs}`,
      );
    }
    return withChanges(this, { jitterMaxMs });
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
    const schedule = toSchedule(fields.schedule);
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
