/**
 * Several jobs in one process sharing one store, one guard and one stop
 * signal: the helper behind the README's multi-job recipe.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeThrown, InvalidJobError } from "../errors.ts";
import type { ExecutionGuard } from "../guard/execution_guard.ts";
import { checkOptions } from "../_options.ts";
import { InMemoryStateStore } from "../store/in_memory.ts";
import type { StateStore } from "../store/state_store.ts";
import type { SchedulerObserver } from "./events/observer.ts";
import type { SchedulerReport } from "./events/report.ts";
import {
  schedule,
  SCHEDULE_OPTION_KEYS,
  type ScheduleOptions,
  type ScheduleSpec,
  type TaskFunction,
} from "./schedule_job.ts";
import type { ScheduledJob } from "./scheduled_job.ts";
import { GroupMember } from "./_group_member.ts";
import { SleepingJobs } from "./_sleeping_jobs.ts";
import { nextMacrotask } from "./loop/_wake_clock.ts";
import type { Task } from "./job/task.ts";

/** The options of a job of a group: the group gives store, guard, signal. */
const GROUP_JOB_OPTION_KEYS = SCHEDULE_OPTION_KEYS.filter((key) =>
  key !== "store" && key !== "guard" && key !== "signal"
);

/**
 * Options of {@linkcode JobGroup}: what every job of the group shares.
 *
 * @example
 * ```ts
 * import { InMemoryStateStore, type JobGroupOptions } from "@cloudiful/scheduler";
 * const options: JobGroupOptions = { store: new InMemoryStateStore(), timezone: "UTC" };
 * ```
 */
export interface JobGroupOptions {
  /** One store for all jobs (keyed by job id). Default: one in-memory store. */
  store?: StateStore;
  /** One guard for all jobs. Default: none. */
  guard?: ExecutionGuard;
  /**
   * Stops every job when it aborts, e.g. `new ShutdownSignal().signal`
   * (SIGINT and SIGTERM).
   */
  signal?: AbortSignal;
  /**
   * The default zone of the jobs.
   *
   * @default {"UTC"}
   */
  timezone?: string;
  /** Receives every event of every job. */
  observer?: SchedulerObserver;
}

/**
 * Options of {@linkcode JobGroup.schedule}: a `jobId` is required.
 *
 * @example
 * ```ts
 * import type { GroupJobOptions } from "@cloudiful/scheduler";
 * const options: GroupJobOptions = { jobId: "backup", timezone: "Europe/Berlin" };
 * ```
 */
export type GroupJobOptions =
  & Omit<ScheduleOptions, "store" | "guard" | "signal">
  & { jobId: string };

/**
 * Runs several jobs side by side (each on its own scheduler) on one shared
 * store, guard and stop signal. When the signal aborts, every job is
 * cancelled; when one job fails (a store, guard or worker error), the
 * others are cancelled too and `done()` rejects with that first error once
 * all have stopped.
 *
 * @example Two jobs, one KV store and guard, stopped by Ctrl-C or SIGTERM
 * ```ts
 * import { DenoKvExecutionGuard, DenoKvStateStore, JobGroup, ShutdownSignal } from "@cloudiful/scheduler";
 * const kv = await Deno.openKv(":memory:");
 * const shutdown = new ShutdownSignal();
 * const jobs = new JobGroup({
 *   store: new DenoKvStateStore(kv),
 *   guard: new DenoKvExecutionGuard(kv, { ttlMs: 30_000, renewIntervalMs: 10_000 }),
 *   signal: shutdown.signal,
 *   timezone: "Europe/Berlin",
 * });
 * jobs.schedule("0 3 * * *", { jobId: "backup" }, () => console.log("backup"));
 * jobs.schedule({ everyMs: 60_000 }, { jobId: "sync" }, () => console.log("sync"));
 * shutdown.abort(); // what Ctrl-C would do
 * const reports = await jobs.done();
 * console.log(reports.map((report) => report.stopReason)); // [ "cancelled", "cancelled" ]
 * kv.close();
 * ```
 */
export class JobGroup {
  readonly #store: StateStore;
  readonly #guard: ExecutionGuard | undefined;
  readonly #timezone: string | undefined;
  readonly #observer: SchedulerObserver | undefined;
  readonly #stop = new AbortController();
  readonly #jobs = new Map<string, ScheduledJob>();
  /** How the jobs not sleeping on the group's clock settle. */
  readonly #settled = new Map<ScheduledJob, Promise<SchedulerReport>>();
  readonly #sleeping: SleepingJobs;
  #firstError: { error: unknown } | undefined;
  #shutDown = false;
  #awaited = false;

  /**
   * A group with what its jobs share.
   *
   * @param options See {@linkcode JobGroupOptions}.
   * @throws {InvalidJobError} kind `other` for unknown options, a
   * `signal` that is not an `AbortSignal`, or a `null` store, guard,
   * timezone or observer (only a missing option takes its default).
   */
  constructor(options: JobGroupOptions = {}) {
    const given = checkOptions(options, {
      what: "JobGroup options",
      known: ["store", "guard", "signal", "timezone", "observer"],
      notNull: ["store", "guard", "timezone", "observer"],
    });
    if (
      given.signal !== undefined && !(given.signal instanceof AbortSignal)
    ) {
      throw new InvalidJobError("JobGroup signal must be an AbortSignal", {
        kind: InvalidJobKind.Other,
      });
    }
    this.#store = given.store ?? new InMemoryStateStore();
    this.#guard = given.guard;
    this.#timezone = given.timezone;
    this.#observer = given.observer;
    this.#sleeping = new SleepingJobs({
      store: this.#store,
      guard: this.#guard,
      timezone: this.#timezone,
      observer: this.#observer,
      signal: this.#stop.signal,
      failed: (job, error) => this.#failed(job, error),
    });
    // Jobs with an engine hear the signal through their run(); sleeping
    // ones have none: they stop here, without ever getting one.
    this.#stop.signal.addEventListener("abort", () => {
      this.#sleeping.close();
      const reason = this.#stop.signal.reason;
      for (const job of this.#jobs.values()) {
        if (job instanceof GroupMember && !job.awake) job.cancel(reason);
      }
    }, { once: true });
    const signal = given.signal;
    if (signal?.aborted) this.#stop.abort(signal.reason);
    else {
      signal?.addEventListener("abort", () => this.#stop.abort(signal.reason), {
        once: true,
      });
    }
  }

  /**
   * Starts a job of the group; options as `schedule()`'s (a `jobId` is
   * required, unique in the group) without `store`, `guard` and `signal`,
   * which the group provides.
   *
   * @param when When the job runs.
   * @param options `jobId` and per-job options.
   * @param task What runs.
   * @returns The running job.
   * @throws {InvalidJobError} kind `other` for a missing or repeated job id,
   * or anything `schedule()` refuses, and once the group was shut down or
   * cancelled (a job started then would run outside it).
   *
   * @example
   * ```ts
   * import { JobGroup } from "@cloudiful/scheduler";
   * const jobs = new JobGroup();
   * const report = jobs.schedule({ everyMs: 10 }, { jobId: "once", maxRuns: 1 }, () => {});
   * console.log((await report.done).stopReason); // terminal
   * ```
   */
  schedule(
    when: ScheduleSpec,
    options: GroupJobOptions,
    task: TaskFunction | Task<undefined>,
  ): ScheduledJob {
    const given = checkOptions(options, {
      what: "JobGroup.schedule() options",
      known: GROUP_JOB_OPTION_KEYS,
      // These fall back to the group's, or to the schedule's text.
      notNull: ["jobId", "timezone", "observer"],
    });
    const stopped = this.#shutDown
      ? "shut down"
      : this.#stop.signal.aborted
      ? "cancelled (by cancel(), its signal or a failed job)"
      : undefined;
    if (stopped !== undefined) {
      // A job started now would run outside the group: nothing would stop it.
      throw new InvalidJobError(
        `JobGroup.schedule(): the group was ${stopped}; ${
          JSON.stringify(given?.jobId)
        } was not started`,
        { kind: InvalidJobKind.Other },
      );
    }
    if (given?.jobId === undefined) {
      throw new InvalidJobError(
        "JobGroup.schedule() needs a jobId: the jobs share one store",
        { kind: InvalidJobKind.Other },
      );
    }
    if (this.#jobs.has(given.jobId)) {
      throw new InvalidJobError(
        `JobGroup already has a job ${
          JSON.stringify(given.jobId)
        }: two would overwrite each other's state`,
        { kind: InvalidJobKind.Other },
      );
    }
    const job = this.#sleeping.admits(given.delivery)
      ? this.#sleeping.add(when, given, task)
      : schedule(
        when,
        {
          ...given,
          timezone: given.timezone ?? this.#timezone,
          observer: given.observer ?? this.#observer,
          store: this.#store,
          guard: this.#guard,
          signal: this.#stop.signal,
        },
        task,
      );
    this.#jobs.set(job.jobId, job);
    if (!(job instanceof GroupMember)) {
      this.#settled.set(
        job,
        job.done.catch((error) => {
          this.#failed(job, error);
          return undefined as unknown as SchedulerReport;
        }),
      );
    }
    return job;
  }

  /**
   * One failed job stops the group: its store or guard is likely gone for
   * the others too, and a half-running service is worse than none.
   */
  #failed(job: ScheduledJob, error: unknown): void {
    if (this.#firstError === undefined && !this.#awaited) {
      console.error(
        `scheduler: job ${JSON.stringify(job.jobId)} of a JobGroup stopped: ${
          describeThrown(error)
        }; the group stops its other jobs (await jobs.done() to handle it)`,
      );
    }
    this.#firstError ??= { error };
    this.#stop.abort(error);
  }

  /** The jobs started so far, by job id. */
  get jobs(): ReadonlyMap<string, ScheduledJob> {
    return this.#jobs;
  }

  /**
   * Cancels every job (their task signals abort with `reason`).
   *
   * @example
   * ```ts
   * import { JobGroup } from "@cloudiful/scheduler";
   * const jobs = new JobGroup();
   * jobs.schedule({ everyMs: 1000 }, { jobId: "a" }, () => {});
   * jobs.cancel();
   * await jobs.done();
   * ```
   */
  cancel(reason?: unknown): void {
    this.#stop.abort(reason);
  }

  /**
   * Lets running tasks finish and stops every job.
   *
   * @example
   * ```ts
   * import { JobGroup } from "@cloudiful/scheduler";
   * const jobs = new JobGroup();
   * jobs.schedule({ everyMs: 1000 }, { jobId: "a" }, () => {});
   * jobs.shutdown();
   * console.log((await jobs.done())[0].stopReason); // shutdown
   * ```
   */
  shutdown(): void {
    this.#shutDown = true;
    for (const job of this.#jobs.values()) job.shutdown();
  }

  /**
   * Resolves once every job started so far is idle (see `ScheduledJob.idle`
   * and docs/testing.md).
   *
   * @example
   * ```ts
   * import { JobGroup } from "@cloudiful/scheduler";
   * const jobs = new JobGroup();
   * jobs.schedule({ everyMs: 1000 }, { jobId: "a" }, () => {});
   * await jobs.idle();
   * jobs.cancel();
   * await jobs.done();
   * ```
   */
  async idle(): Promise<void> {
    for (;;) {
      const woken = this.#sleeping.woken;
      const waits: Promise<void>[] = [];
      for (const job of this.#jobs.values()) {
        if (!(job instanceof GroupMember) || job.awake) waits.push(job.idle());
        else if (job.loading !== undefined) waits.push(job.loading);
      }
      await Promise.all(waits);
      // One turn for all sleeping jobs: did the group's clock wake one?
      await nextMacrotask();
      if (this.#sleeping.woken === woken) return;
    }
  }

  /**
   * Waits until every job started so far has stopped.
   *
   * @returns Their reports, in the order they were scheduled.
   * @throws The first error that stopped a job (the others were cancelled
   * and have settled by then).
   *
   * @example
   * ```ts
   * import { JobGroup } from "@cloudiful/scheduler";
   * const jobs = new JobGroup();
   * jobs.schedule({ everyMs: 5 }, { jobId: "a", maxRuns: 2 }, () => {});
   * jobs.schedule({ everyMs: 5 }, { jobId: "b", maxRuns: 1 }, () => {});
   * console.log((await jobs.done()).map((report) => report.history.length)); // [ 2, 1 ]
   * ```
   */
  async done(): Promise<SchedulerReport[]> {
    this.#awaited = true;
    const reports = await Promise.all(
      Array.from(
        this.#jobs.values(),
        (job) =>
          // A job stopped in its sleep has its report at hand.
          (job instanceof GroupMember ? job.report : undefined) ??
            this.#settled.get(job) ??
            job.done.catch(() => undefined as unknown as SchedulerReport),
      ),
    );
    if (this.#firstError !== undefined) throw this.#firstError.error;
    return reports;
  }
}
