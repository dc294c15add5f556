/**
 * Async scheduling for a single logical job at a time, for Deno first.
 *
 * A job fires on an interval, at listed instants, or on a crontab(5)
 * expression in an IANA time zone with exact daylight-saving rules. Its state
 * survives restarts through a state store, and an execution guard makes sure
 * that only one of many instances runs each occurrence.
 *
 * The core (everything here except `DenoKvStateStore` and
 * `DenoKvExecutionGuard`, which need a `Deno.Kv`) uses web-standard APIs and
 * also runs on Node ≥ 20 and Bun; importing this module never touches `Deno`.
 * `Task.fromWorker` starts a module Web Worker on Deno and Bun and a
 * `node:worker_threads` Worker on Node (whose worker modules must be ES module
 * JavaScript), and is refused with `InvalidJobError` in a runtime that has
 * neither. CI smoke-tests the package built as JSR serves it to Node and Bun
 * (`deno task runtimes`). The Valkey store and guard live in
 * `@cloudiful/scheduler/valkey`.
 *
 * @example Next occurrences of a cron expression in a time zone
 * ```ts
 * import { CronSchedule } from "@cloudiful/scheduler";
 * const cron = CronSchedule.parse("30 2 * * *");
 * // 02:30 does not exist in New York on 2026-03-08: it fires once at 03:00 EDT.
 * const next = cron.nextAfter(new Date("2026-03-08T05:00:00Z"), "America/New_York");
 * console.log(next?.toISOString()); // 2026-03-08T07:00:00.000Z
 * ```
 *
 * @module
 */

export * from "./src/constants.ts";
export {
  ExecutionGuardError,
  InvalidJobError,
  SchedulerError,
  StoreError,
  TaskJoinError,
  TriggerNowError,
} from "./src/errors.ts";
export { type NextRunsOptions, Schedule } from "./src/schedule/schedule.ts";
export { CronSchedule } from "./src/schedule/cron_schedule.ts";
export type { DstPolicy } from "./src/schedule/dst_policy.ts";
export { MAX_TIMER_MS, sleepUntil } from "./src/schedule/sleep.ts";
export type { JobState } from "./src/store/job_state.ts";
export type {
  CreateIfAbsentStateStore,
  StateStore,
  StoreEventDetail,
} from "./src/store/state_store.ts";
export {
  canWriteLeased,
  type LeasedAcquire,
  type LeasedStateWrites,
  type LeaseEnd,
  type SaveAndAcquire,
  type SaveAndEnd,
} from "./src/store/leased_writes.ts";
export { InMemoryStateStore } from "./src/store/in_memory.ts";
export {
  ResilientStateStore,
  type ResilientStateStoreOptions,
} from "./src/store/resilient.ts";
export {
  type ExecutionGuard,
  NoopExecutionGuard,
} from "./src/guard/execution_guard.ts";
export type {
  ExecutionGuardAcquire,
  ExecutionGuardRenewal,
  ExecutionLease,
  ExecutionSlot,
} from "./src/guard/lease.ts";
export { Task } from "./src/scheduler/job/task.ts";
export type {
  RunContext,
  TaskContext,
} from "./src/scheduler/job/task_context.ts";
export { Job } from "./src/scheduler/job/job.ts";
export type { RetryPolicy } from "./src/scheduler/job/retry.ts";
export type { TriggerNowOptions } from "./src/scheduler/run/manual.ts";
export { Delivery } from "./src/scheduler/job/delivery.ts";
export type {
  InFlightLedger,
  InFlightRecord,
  InFlightSlot,
} from "./src/guard/in_flight.ts";
export type { SchedulerConfig } from "./src/scheduler/job/config.ts";
export type {
  RunRecord,
  SchedulerReport,
} from "./src/scheduler/events/report.ts";
export type * from "./src/scheduler/events/events.ts";
export type * from "./src/scheduler/events/state_events.ts";
export type * from "./src/scheduler/events/run_events.ts";
export type * from "./src/scheduler/events/guard_events.ts";
export {
  LogObserver,
  NoopObserver,
  type SchedulerObserver,
} from "./src/scheduler/events/observer.ts";
export { SchedulerHandle } from "./src/scheduler/control.ts";
export {
  type RunOptions,
  Scheduler,
  type SchedulerOptions,
} from "./src/scheduler/scheduler.ts";
export {
  schedule,
  type ScheduleOptions,
  type ScheduleSpec,
  type TaskFunction,
} from "./src/scheduler/schedule_job.ts";
export { ScheduledJob } from "./src/scheduler/scheduled_job.ts";
export {
  type GroupJobOptions,
  JobGroup,
  type JobGroupOptions,
} from "./src/scheduler/job_group.ts";
export {
  ShutdownSignal,
  type ShutdownSignalName,
  type ShutdownSignalOptions,
  type SignalRuntime,
} from "./src/shutdown_signal.ts";
export type { LeaseConfig } from "./src/guard/lease_config.ts";
export type { FencingResetDetail } from "./src/guard/fencing.ts";
export { GuardedEventTarget } from "./src/guard/guarded_event_target.ts";
export {
  DenoKvStateStore,
  type DenoKvStateStoreOptions,
} from "./src/deno_kv/state_store.ts";
export {
  DenoKvExecutionGuard,
  type DenoKvExecutionGuardOptions,
} from "./src/deno_kv/execution_guard.ts";
