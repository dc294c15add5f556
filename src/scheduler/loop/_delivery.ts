/**
 * Which delivery one `run()` gets from its job and guard: a reclaimer over
 * the guard's in-flight ledger (at-least-once, or at-most-once reporting
 * losses), nothing (the single-instance guard, or a guard without a ledger
 * at-most-once), or the error `run()` rejects with.
 *
 * @module
 */

import { InvalidJobKind } from "../../constants.ts";
import { InvalidJobError } from "../../errors.ts";
import {
  type ExecutionGuard,
  NoopExecutionGuard,
} from "../../guard/execution_guard.ts";
import type { InFlightLedger } from "../../guard/in_flight.ts";
import { Delivery } from "../job/delivery.ts";
import type { Job } from "../job/job.ts";
import { Reclaimer } from "./_reclaim.ts";

/**
 * The reclaimer of an at-least-once job, or of an at-most-once one whose
 * guard has an in-flight ledger (it only reports losses), or the error
 * `run()` must reject with: an `InvalidJobError` kind `other` when the job
 * is at-least-once and the guard has no in-flight ledger.
 */
export function deliveryFor<D>(
  job: Job<D>,
  guard: ExecutionGuard,
  wake: () => void,
): { reclaimer?: Reclaimer; error?: InvalidJobError } {
  const ledger: InFlightLedger | undefined = guard.inFlight;
  if (job.delivery !== Delivery.AtLeastOnce) {
    // A guard without a ledger (a custom one, the single-instance one)
    // cannot tell a dead holder's occurrence from a skipped one.
    return ledger === undefined
      ? {}
      : { reclaimer: new Reclaimer({ ledger, job, wake, replay: false }) };
  }
  if (
    ledger === undefined &&
    Object.getPrototypeOf(guard) === NoopExecutionGuard.prototype
  ) {
    // The single-instance guard: every holder is in this process, alive as
    // long as the records would be (a crash loses both), so nothing could
    // ever be reclaimed, and a run given back would find nobody to take it.
    // At-least-once is at-most-once here, and costs nothing more.
    return {};
  }
  if (ledger === undefined) {
    return {
      error: new InvalidJobError(
        `job ${
          JSON.stringify(job.jobId)
        } asks for at-least-once delivery, but its execution guard has no in-flight ledger (guard.inFlight); use the Valkey or Deno KV guard, or the default single-instance guard`,
        { kind: InvalidJobKind.Other },
      ),
    };
  }
  return { reclaimer: new Reclaimer({ ledger, job, wake, replay: true }) };
}
