/**
 * The delivery guarantee of a job: what happens to an occurrence whose run
 * was interrupted by a crash.
 *
 * Runtime-neutral.
 *
 * @module
 */

/**
 * How many times an occurrence may run when an instance dies mid-run.
 *
 * - `at-most-once` (default): the occurrence is consumed and saved before
 *   its task starts; a crash during the run loses it (the Rust crate's
 *   model).
 * - `at-least-once`: the guard also writes an in-flight record with the
 *   lease; an instance that finds a record whose lease expired reclaims it
 *   and runs the occurrence again with `ctx.run.replayed === true` and a
 *   higher fencing token. Tasks must then be idempotent.
 *
 * @example
 * ```ts
 * import { Delivery, Job, Schedule, Task } from "@cloudiful/scheduler";
 * const job = Job.withoutDeps("bill", Schedule.interval(60_000), Task.fromSync(() => {}))
 *   .withDelivery(Delivery.AtLeastOnce);
 * console.log(job.delivery); // "at-least-once"
 * ```
 */
export const Delivery: {
  readonly AtMostOnce: "at-most-once";
  readonly AtLeastOnce: "at-least-once";
} = Object.freeze({
  AtMostOnce: "at-most-once",
  AtLeastOnce: "at-least-once",
});
/** A value of {@linkcode Delivery}. */
export type Delivery = typeof Delivery[keyof typeof Delivery];
