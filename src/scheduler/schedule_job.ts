/**
 * `schedule()`: the one-call entry point for the common case, on top of
 * `Scheduler`, `Job` and `Task`.
 *
 * Runtime-neutral.
 *
 * @module
 */

import type { RetryPolicy } from "./job/retry.ts";
import type { Delivery } from "./job/delivery.ts";
import type {
  MissedRunPolicy,
  OverlapPolicy,
  TerminalStatePolicy,
} from "../constants.ts";
import { describeValue, invalid } from "../errors.ts";
import type { ExecutionGuard } from "../guard/execution_guard.ts";
import { checkOptions } from "../_options.ts";
import type { CronSchedule } from "../schedule/cron_schedule.ts";
import type { DstPolicy } from "../schedule/dst_policy.ts";
import type { Schedule } from "../schedule/schedule.ts";
import { InMemoryStateStore } from "../store/in_memory.ts";
import type { StateStore } from "../store/state_store.ts";
import type { SchedulerObserver } from "./events/observer.ts";
import { ScheduledJob } from "./scheduled_job.ts";
import { Scheduler } from "./scheduler.ts";
import type { Task } from "./job/task.ts";
import { defineJob, toScheduleAndId, toTask } from "./_define_job.ts";
import type { TaskContext } from "./job/task_context.ts";

/**
 * When a job runs: a crontab(5) expression (or a parsed
 * {@linkcode CronSchedule}), any {@linkcode Schedule}, or `{ everyMs }` for a
 * fixed interval.
 *
 * @example
 * ```ts
 * import type { ScheduleSpec } from "@cloudiful/scheduler";
 * const nightly: ScheduleSpec = "0 3 * * *";
 * const often: ScheduleSpec = { everyMs: 600_000 };
 * ```
 */
export type ScheduleSpec =
  | string
  | CronSchedule
  | Schedule
  | { readonly everyMs: number };

/**
 * A plain function accepted as a task: what it returns (or resolves to) is
 * ignored; a throw or rejection is a failed run.
 *
 * @example
 * ```ts
 * import type { TaskFunction } from "@cloudiful/scheduler";
 * const task: TaskFunction = async ({ run, signal }) => {
 *   if (!signal.aborted) console.log("run", run.triggerCount);
 * };
 * ```
 */
export type TaskFunction = (ctx: TaskContext<undefined>) => unknown;

/**
 * Options of {@linkcode schedule}. Everything is optional; an unknown key
 * throws.
 *
 * @example
 * ```ts
 * import type { ScheduleOptions } from "@cloudiful/scheduler";
 * const options: ScheduleOptions = {
 *   timezone: "Europe/Berlin",
 *   missedRunPolicy: "skip",
 *   maxRuns: 10,
 * };
 * ```
 */
export interface ScheduleOptions {
  /**
   * The key of the job's state (and leases). Required with a `store` or a
   * `guard`, which several jobs may share; otherwise it defaults to the
   * schedule's text, e.g. `"0 3 * * *"` or `"every 600000 ms"`.
   */
  jobId?: string;
  /**
   * IANA zone for cron and for `ctx.run.timezone`.
   *
   * @default {"UTC"}
   */
  timezone?: string;
  /** Aborting it stops the job, as `cancel(signal.reason)`. */
  signal?: AbortSignal;
  /** Where the state lives. Default: a new in-memory store. */
  store?: StateStore;
  /** Coordinates instances. Default: none. */
  guard?: ExecutionGuard;
  /** Receives every event. */
  observer?: SchedulerObserver;
  /** Stop after this many occurrences. Default: unbounded. */
  maxRuns?: number;
  /**
   * What happens to occurrences that came due while nothing ran.
   *
   * @default {"catch-up-once"}
   */
  missedRunPolicy?: MissedRunPolicy;
  /**
   * What happens to an occurrence while a run is still active.
   *
   * @default {"forbid"}
   */
  overlapPolicy?: OverlapPolicy;
  /**
   * What happens to the stored state once the schedule is exhausted.
   *
   * @default {"retain"}
   */
  terminalStatePolicy?: TerminalStatePolicy;
  /**
   * How many run records the report keeps.
   *
   * @default {32}
   */
  historyLimit?: number;
  /**
   * Lateness (ms) beyond which an occurrence counts as missed.
   *
   * @default {1000}
   */
  missedRunToleranceMs?: number;
  /** Overrides of the cron daylight-saving rules. */
  dst?: DstPolicy;
  /** Each attempt's time limit, as `Job.withRunTimeout`. Default: none. */
  runTimeoutMs?: number;
  /** How a failed run is retried, as `Job.withRetry`. Default: no retry. */
  retry?: RetryPolicy;
  /** The jitter bound, as `Job.withJitter`. Default: 0 (none). */
  jitterMs?: number;
  /**
   * The delivery guarantee, as `Job.withDelivery`.
   *
   * @default {"at-most-once"}
   */
  delivery?: Delivery;
}

/** The keys of {@linkcode ScheduleOptions}, for the unknown-key check. */
export const SCHEDULE_OPTION_KEYS: readonly (keyof ScheduleOptions)[] = [
  "jobId",
  "timezone",
  "signal",
  "store",
  "guard",
  "observer",
  "maxRuns",
  "missedRunPolicy",
  "overlapPolicy",
  "terminalStatePolicy",
  "historyLimit",
  "missedRunToleranceMs",
  "dst",
  "runTimeoutMs",
  "retry",
  "jitterMs",
  "delivery",
];

/**
 * The options whose default is built in their place (the schedule's text, an
 * in-memory store, no guard, no observer): `null` for one is refused.
 */
const DEFAULTED_PARTS = ["jobId", "store", "guard", "observer"];

/**
 * Starts a job in one call and returns its handle: `when` is a cron
 * expression, a {@linkcode Schedule} or `{ everyMs }`; `task` a plain
 * function (sync or async) or a {@linkcode Task}. The state lives in memory
 * unless `options.store` is given.
 *
 * @param when When the job runs.
 * @param task What runs.
 * @returns The running job.
 * @throws {InvalidJobError} synchronously for an invalid schedule, task or
 * option (unknown option keys and a `null` store, guard, observer or job id
 * included: only a missing option takes its default).
 *
 * @example Every 10 minutes
 * ```ts
 * import { schedule } from "@cloudiful/scheduler";
 * const job = schedule({ everyMs: 600_000 }, () => console.log("tick"));
 * job.cancel();
 * await job.done;
 * ```
 */
export function schedule(
  when: ScheduleSpec,
  task: TaskFunction | Task<undefined>,
): ScheduledJob;
/**
 * Starts a job in one call, with options: a time zone, an `AbortSignal`, a
 * shared store and guard (then a `jobId` is required), policies.
 *
 * @param when When the job runs.
 * @param options See {@linkcode ScheduleOptions}.
 * @param task What runs.
 * @returns The running job.
 * @throws {InvalidJobError} synchronously for an invalid schedule, task or
 * option (unknown option keys and a `null` store, guard, observer or job id
 * included: only a missing option takes its default).
 *
 * @example Nightly at 03:00 in Berlin until aborted
 * ```ts
 * import { schedule } from "@cloudiful/scheduler";
 * const controller = new AbortController();
 * const job = schedule(
 *   "0 3 * * *",
 *   { timezone: "Europe/Berlin", signal: controller.signal },
 *   async ({ run }) => console.log("backup for", run.scheduledAt),
 * );
 * controller.abort();
 * console.log((await job.done).stopReason); // cancelled
 * ```
 */
export function schedule(
  when: ScheduleSpec,
  options: ScheduleOptions,
  task: TaskFunction | Task<undefined>,
): ScheduledJob;
export function schedule(
  when: ScheduleSpec,
  optionsOrTask: ScheduleOptions | TaskFunction | Task<undefined>,
  maybeTask?: TaskFunction | Task<undefined>,
): ScheduledJob {
  const twoArguments = arguments.length < 3;
  const options = checkOptions(
    (twoArguments ? undefined : optionsOrTask) as ScheduleOptions | undefined,
    {
      what: "schedule() options",
      known: SCHEDULE_OPTION_KEYS,
      notNull: DEFAULTED_PARTS,
    },
  );
  const task = toTask(twoArguments ? optionsOrTask : maybeTask);
  const { schedule: resolved, id } = toScheduleAndId(when);
  if (
    options.jobId === undefined &&
    (options.store !== undefined || options.guard !== undefined)
  ) {
    throw invalid(
      "schedule() needs a jobId when a store or guard is given: several jobs may share them, and they key each job's state and leases by its id",
    );
  }
  const { job, config } = defineJob(resolved, id, options, task);
  const store = options.store ?? new InMemoryStateStore();
  const scheduler = new Scheduler(
    config,
    store,
    { guard: options.guard, observer: options.observer },
  );
  const signal = options.signal;
  // run() would check it too, but only as a rejection of `done`.
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalid(
      `schedule() option signal must be an AbortSignal, got ${
        describeValue(signal)
      }`,
    );
  }
  return new ScheduledJob({
    scheduler,
    jobId: job.jobId,
    run: (started) => started.run(job, signal === undefined ? {} : { signal }),
  });
}
