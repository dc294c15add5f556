/**
 * The checks of what the Valkey store's leased writes are handed, before
 * any command: a grant's slot (with what its in-flight record needs) and a
 * lease to end, each of the state's job.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import type { InFlightSlot } from "../guard/in_flight.ts";
import type { ExecutionLease } from "../guard/lease.ts";
import {
  requireInFlightSlot,
  requireLeaseOf,
  requireSlot,
} from "../guard/lease_config.ts";
import type { JobState } from "../store/job_state.ts";
import { formatRfc3339 } from "../schedule/_rfc3339.ts";
import type { ValkeyKeys } from "./_key_layout.ts";

/**
 * Checks a grant's slot: as the guard's acquire checks it (with a record,
 * as `requireInFlightSlot`), and of the state's job.
 *
 * @throws {ExecutionGuardError} kind `data` for a slot the guard would
 * refuse; {@linkcode InvalidJobError} for a slot of another job.
 */
export function requireGrantSlot(
  slot: InFlightSlot,
  request: { readonly state: JobState; readonly record: boolean },
): Date {
  const scheduledAt = request.record
    ? requireInFlightSlot(slot)
    : requireSlot(slot);
  if (slot.jobId !== request.state.jobId) {
    throw new InvalidJobError(
      `a leased write needs the state and the slot of one job, got state of ${
        JSON.stringify(request.state.jobId)
      } and slot of ${JSON.stringify(slot.jobId)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  return scheduledAt;
}

/**
 * Checks a lease to end with `state`: of the state's job, with a string
 * token, and the lease key this layout gives its occurrence (no other key
 * is ever written). Returns the occurrence's timestamp as in its keys.
 *
 * @throws {InvalidJobError} kind `other`, naming what is wrong.
 */
export function requireEndLease(
  lease: ExecutionLease,
  { state, keys }: { readonly state: JobState; readonly keys: ValkeyKeys },
): string {
  const at = formatRfc3339(requireLeaseOf(lease, state.jobId).getTime(), 9);
  const leaseKey = keys.lease(lease.jobId, at);
  if (lease.leaseKey !== leaseKey) {
    throw new InvalidJobError(
      `saveAndEnd needs a lease of this deployment's guard (leaseKey ${
        JSON.stringify(leaseKey)
      }), got leaseKey ${describeValue(lease.leaseKey)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  return at;
}
