/**
 * What `schedule()` and `JobGroup.schedule()` make of their arguments: the
 * `Job` (schedule, task, policies) and the scheduler config of one job,
 * before anything starts it.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { describeValue, invalid } from "../errors.ts";
import { checkOptions } from "../_options.ts";
import { CronSchedule } from "../schedule/cron_schedule.ts";
import { Schedule, toSchedule } from "../schedule/schedule.ts";
import type { SchedulerConfig } from "./job/config.ts";
import type { Delivery } from "./job/delivery.ts";
import { Job } from "./job/job.ts";
import type { RetryPolicy } from "./job/retry.ts";
import { Task } from "./job/task.ts";
import type { TaskContext } from "./job/task_context.ts";
import type { MissedRunPolicy, OverlapPolicy } from "../constants.ts";

/**
 * The per-job options both entry points read: `ScheduleOptions` (whose
 * documentation they are) without the shared parts.
 */
export type JobDefinitionOptions = SchedulerConfig & {
  jobId?: string;
  maxRuns?: number;
  missedRunPolicy?: MissedRunPolicy;
  overlapPolicy?: OverlapPolicy;
  runTimeoutMs?: number;
  retry?: RetryPolicy;
  jitterMs?: number;
  delivery?: Delivery;
};

/** Turns a `when` into a `Schedule` and the job id it implies. */
export function toScheduleAndId(
  spec: unknown,
): { schedule: Schedule; id: string } {
  if (typeof spec === "string" || spec instanceof CronSchedule) {
    return { schedule: Schedule.cron(spec), id: String(spec) };
  }
  if (typeof spec === "object" && spec !== null && !("kind" in spec)) {
    const { everyMs } = checkOptions(spec as { everyMs?: number }, {
      what: "an interval (such as { everyMs: 600000 })",
      known: ["everyMs"],
    });
    if (everyMs === undefined) {
      throw invalid("an interval needs everyMs, such as { everyMs: 600000 }");
    }
    return {
      schedule: Schedule.interval(everyMs),
      id: `every ${everyMs} ms`,
    };
  }
  const schedule = toSchedule(spec);
  return {
    schedule,
    id: schedule.kind === "interval"
      ? `every ${schedule.everyMs} ms`
      : schedule.kind === "cron"
      ? schedule.cron.expression
      : "at-times",
  };
}

/** A plain function becomes a `Task`; a `Task` is kept. */
export function toTask(task: unknown): Task<undefined> {
  if (task instanceof Task) return task as Task<undefined>;
  if (typeof task !== "function") {
    throw invalid(
      `schedule() needs a task: a function or a Task, got ${
        describeValue(task)
      }`,
    );
  }
  const run = task as (ctx: TaskContext<undefined>) => unknown;
  // An async wrapper turns a synchronous throw into a failed run as well.
  return Task.fromAsync(async (ctx) => {
    await run(ctx);
  });
}

/** The job and its config, as `schedule()` builds them from options. */
export function defineJob(
  schedule: Schedule,
  id: string,
  options: JobDefinitionOptions,
  task: Task<undefined>,
): { job: Job<undefined>; config: SchedulerConfig } {
  let job = Job.withoutDeps(options.jobId ?? id, schedule, task);
  if (options.maxRuns !== undefined) job = job.withMaxRuns(options.maxRuns);
  if (options.missedRunPolicy !== undefined) {
    job = job.withMissedRunPolicy(options.missedRunPolicy);
  }
  if (options.overlapPolicy !== undefined) {
    job = job.withOverlapPolicy(options.overlapPolicy);
  }
  if (options.runTimeoutMs !== undefined) {
    job = job.withRunTimeout(options.runTimeoutMs);
  }
  if (options.retry !== undefined) job = job.withRetry(options.retry);
  if (options.jitterMs !== undefined) job = job.withJitter(options.jitterMs);
  if (options.delivery !== undefined) job = job.withDelivery(options.delivery);
  return {
    job,
    config: {
      timezone: options.timezone,
      historyLimit: options.historyLimit,
      terminalStatePolicy: options.terminalStatePolicy,
      missedRunToleranceMs: options.missedRunToleranceMs,
      dst: options.dst,
    },
  };
}
