/**
 * The enumerations of the public API. Each is a frozen object of string
 * constants plus a type of its values, so that both `MissedRunPolicy.Skip` and
 * the literal `"skip"` are accepted wherever a policy is expected.
 *
 * Runtime-neutral: no Deno API is used here.
 *
 * @module
 */

/**
 * What the scheduler does with occurrences that came due while it could not
 * run them (downtime, a pause, a blocked event loop).
 *
 * - `skip`: consume every due occurrence; run only when exactly one was due and
 *   it is not late.
 * - `catch-up-once` (default): consume every due occurrence and run once for
 *   the latest.
 * - `replay-all`: run every due occurrence, one after the other, in order.
 *
 * @example Choose a policy
 * ```ts
 * import { MissedRunPolicy } from "@cloudiful/scheduler";
 * const policy: MissedRunPolicy = MissedRunPolicy.ReplayAll;
 * console.log(policy); // "replay-all"
 * ```
 */
export const MissedRunPolicy: {
  readonly Skip: "skip";
  readonly CatchUpOnce: "catch-up-once";
  readonly ReplayAll: "replay-all";
} = Object.freeze({
  Skip: "skip",
  CatchUpOnce: "catch-up-once",
  ReplayAll: "replay-all",
});
/** A value of {@linkcode MissedRunPolicy}. */
export type MissedRunPolicy =
  typeof MissedRunPolicy[keyof typeof MissedRunPolicy];

/**
 * What happens to a trigger that comes due while an earlier run is still
 * active.
 *
 * - `forbid` (default): drop it (it still counts as consumed).
 * - `queue-one`: keep one pending trigger, start it when the active run ends.
 * - `allow-parallel`: start it at once, beside the active run.
 *
 * @example
 * ```ts
 * import { OverlapPolicy } from "@cloudiful/scheduler";
 * console.log(OverlapPolicy.QueueOne); // "queue-one"
 * ```
 */
export const OverlapPolicy: {
  readonly Forbid: "forbid";
  readonly QueueOne: "queue-one";
  readonly AllowParallel: "allow-parallel";
} = Object.freeze({
  Forbid: "forbid",
  QueueOne: "queue-one",
  AllowParallel: "allow-parallel",
});
/** A value of {@linkcode OverlapPolicy}. */
export type OverlapPolicy = typeof OverlapPolicy[keyof typeof OverlapPolicy];

/**
 * What happens to the stored state once a job's schedule is exhausted:
 * `retain` (default) keeps it, `delete` removes it from the store.
 *
 * @example
 * ```ts
 * import { TerminalStatePolicy } from "@cloudiful/scheduler";
 * console.log(TerminalStatePolicy.Delete); // "delete"
 * ```
 */
export const TerminalStatePolicy: {
  readonly Retain: "retain";
  readonly Delete: "delete";
} = Object.freeze({
  Retain: "retain",
  Delete: "delete",
});
/** A value of {@linkcode TerminalStatePolicy}. */
export type TerminalStatePolicy =
  typeof TerminalStatePolicy[keyof typeof TerminalStatePolicy];

/**
 * The outcome of one run (or one attempt of it): `success` (the task
 * resolved), `failed` (it threw or rejected), `cancelled` (it rejected after
 * its signal was aborted by `cancel()` or a lost lease), `timed-out` (it
 * outlived the job's `withRunTimeout(ms)`; recorded once the task settled).
 *
 * @example
 * ```ts
 * import { RunStatus } from "@cloudiful/scheduler";
 * console.log(RunStatus.Failed); // "failed"
 * ```
 */
export const RunStatus: {
  readonly Success: "success";
  readonly Failed: "failed";
  readonly Cancelled: "cancelled";
  readonly TimedOut: "timed-out";
} = Object.freeze({
  Success: "success",
  Failed: "failed",
  Cancelled: "cancelled",
  TimedOut: "timed-out",
});
/** A value of {@linkcode RunStatus}. */
export type RunStatus = typeof RunStatus[keyof typeof RunStatus];

/**
 * Why `Scheduler.run()` ended: `terminal` (the schedule is exhausted),
 * `cancelled` (`cancel()` or the `signal` option), `shutdown` (`shutdown()` or a
 * lost execution lease), `failed` (only in the `scheduler-stopped` event of a
 * run that rejected).
 *
 * @example
 * ```ts
 * import { SchedulerStopReason } from "@cloudiful/scheduler";
 * console.log(SchedulerStopReason.Terminal); // "terminal"
 * ```
 */
export const SchedulerStopReason: {
  readonly Terminal: "terminal";
  readonly Cancelled: "cancelled";
  readonly Shutdown: "shutdown";
  readonly Failed: "failed";
} = Object.freeze({
  Terminal: "terminal",
  Cancelled: "cancelled",
  Shutdown: "shutdown",
  Failed: "failed",
});
/** A value of {@linkcode SchedulerStopReason}. */
export type SchedulerStopReason =
  typeof SchedulerStopReason[keyof typeof SchedulerStopReason];

/**
 * Where the state a run starts from came from: `new` (nothing was stored),
 * `restored` (the stored state, as is), `repaired` (a stored interval state
 * whose next run was missing).
 *
 * @example
 * ```ts
 * import { StateLoadSource } from "@cloudiful/scheduler";
 * console.log(StateLoadSource.Restored); // "restored"
 * ```
 */
export const StateLoadSource: {
  readonly New: "new";
  readonly Restored: "restored";
  readonly Repaired: "repaired";
} = Object.freeze({
  New: "new",
  Restored: "restored",
  Repaired: "repaired",
});
/** A value of {@linkcode StateLoadSource}. */
export type StateLoadSource =
  typeof StateLoadSource[keyof typeof StateLoadSource];

/**
 * The state store operation an error or event refers to.
 *
 * @example
 * ```ts
 * import { StoreOperation } from "@cloudiful/scheduler";
 * console.log(StoreOperation.Save); // "save"
 * ```
 */
export const StoreOperation: {
  readonly Load: "load";
  readonly Save: "save";
  readonly Delete: "delete";
} = Object.freeze({
  Load: "load",
  Save: "save",
  Delete: "delete",
});
/** A value of {@linkcode StoreOperation}. */
export type StoreOperation = typeof StoreOperation[keyof typeof StoreOperation];

/**
 * The class of a store failure: `connection` (the backend could not be
 * reached; worth retrying or masking), `auth` (the backend refuses our
 * credentials or permissions, e.g. `WRONGPASS` after a password rotation;
 * no reconnection cures it, never masked), `data` (what is stored does not
 * decode; never masked), `unknown` (anything else).
 *
 * @example
 * ```ts
 * import { StoreErrorKind } from "@cloudiful/scheduler";
 * console.log(StoreErrorKind.Data); // "data"
 * ```
 */
export const StoreErrorKind: {
  readonly Connection: "connection";
  readonly Auth: "auth";
  readonly Data: "data";
  readonly Unknown: "unknown";
} = Object.freeze({
  Connection: "connection",
  Auth: "auth",
  Data: "data",
  Unknown: "unknown",
});
/** A value of {@linkcode StoreErrorKind}. */
export type StoreErrorKind = typeof StoreErrorKind[keyof typeof StoreErrorKind];

/**
 * The class of an execution guard failure; the same classes as
 * {@linkcode StoreErrorKind}. Invalid lease configuration is `data`.
 *
 * @example
 * ```ts
 * import { ExecutionGuardErrorKind } from "@cloudiful/scheduler";
 * console.log(ExecutionGuardErrorKind.Connection); // "connection"
 * ```
 */
export const ExecutionGuardErrorKind: {
  readonly Connection: "connection";
  readonly Auth: "auth";
  readonly Data: "data";
  readonly Unknown: "unknown";
} = Object.freeze({
  Connection: "connection",
  Auth: "auth",
  Data: "data",
  Unknown: "unknown",
});
/** A value of {@linkcode ExecutionGuardErrorKind}. */
export type ExecutionGuardErrorKind =
  typeof ExecutionGuardErrorKind[keyof typeof ExecutionGuardErrorKind];

/**
 * Why a task could not be joined: `panic` (a worker task crashed or exited),
 * `cancelled`, `unknown`.
 *
 * @example
 * ```ts
 * import { TaskJoinErrorKind } from "@cloudiful/scheduler";
 * console.log(TaskJoinErrorKind.Panic); // "panic"
 * ```
 */
export const TaskJoinErrorKind: {
  readonly Cancelled: "cancelled";
  readonly Panic: "panic";
  readonly Unknown: "unknown";
} = Object.freeze({
  Cancelled: "cancelled",
  Panic: "panic",
  Unknown: "unknown",
});
/** A value of {@linkcode TaskJoinErrorKind}. */
export type TaskJoinErrorKind =
  typeof TaskJoinErrorKind[keyof typeof TaskJoinErrorKind];

/**
 * What was wrong with a job, schedule or configuration.
 *
 * @example
 * ```ts
 * import { InvalidJobKind } from "@cloudiful/scheduler";
 * console.log(InvalidJobKind.CronExpression); // "cron-expression"
 * ```
 */
export const InvalidJobKind: {
  readonly ZeroInterval: "zero-interval";
  readonly IntervalOutOfRange: "interval-out-of-range";
  readonly CronExpression: "cron-expression";
  readonly Timezone: "timezone";
  readonly Other: "other";
} = Object.freeze({
  ZeroInterval: "zero-interval",
  IntervalOutOfRange: "interval-out-of-range",
  CronExpression: "cron-expression",
  Timezone: "timezone",
  Other: "other",
});
/** A value of {@linkcode InvalidJobKind}. */
export type InvalidJobKind = typeof InvalidJobKind[keyof typeof InvalidJobKind];

/**
 * Why `SchedulerHandle.triggerNow()` did not run the task:
 *
 * - `not-running`: no `run()` of this scheduler is active (or it is still
 *   loading its state).
 * - `paused`: the scheduler is paused; nothing starts until `resume()`.
 * - `stopping`: `cancel()` or `shutdown()` was requested (also when a queued
 *   manual run is discarded because `run()` ended).
 * - `overlap`: a run is active and the overlap policy is `forbid`, or it is
 *   `queue-one` and a trigger is already queued.
 * - `contended`: the execution guard refused the manual run's slot: another
 *   instance runs (or ran) the same manual request.
 * - `failed`: `run()` failed (store, guard or panic) before the run started.
 *
 * @example
 * ```ts
 * import { TriggerNowErrorKind } from "@cloudiful/scheduler";
 * console.log(TriggerNowErrorKind.Contended); // "contended"
 * ```
 */
export const TriggerNowErrorKind: {
  readonly NotRunning: "not-running";
  readonly Paused: "paused";
  readonly Stopping: "stopping";
  readonly Overlap: "overlap";
  readonly Contended: "contended";
  readonly Failed: "failed";
} = Object.freeze({
  NotRunning: "not-running",
  Paused: "paused",
  Stopping: "stopping",
  Overlap: "overlap",
  Contended: "contended",
  Failed: "failed",
});
/** A value of {@linkcode TriggerNowErrorKind}. */
export type TriggerNowErrorKind =
  typeof TriggerNowErrorKind[keyof typeof TriggerNowErrorKind];
