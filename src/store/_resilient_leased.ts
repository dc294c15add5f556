/**
 * A `ResilientStateStore`'s passing of its primary's leased writes
 * (`leased_writes.ts`) through its outage gate: the saved state mirrored as
 * a save mirrors it, and, while the primary cannot be reached, the guard's
 * outage a grant or an end fails with (see docs/stores.md).
 *
 * Runtime-neutral.
 *
 * @module
 */

import {
  ExecutionGuardErrorKind,
  InvalidJobKind,
  StoreOperation,
} from "../constants.ts";
import {
  describeThrown,
  describeValue,
  ExecutionGuardError,
  InvalidJobError,
  isInstance,
} from "../errors.ts";
import type { ExecutionGuard } from "../guard/execution_guard.ts";
import { requireLeaseOf } from "../guard/lease_config.ts";
import {
  canWriteLeased,
  type LeasedAcquire,
  type LeasedStateWrites,
  type SaveAndAcquire,
  type SaveAndEnd,
} from "./leased_writes.ts";
import type { StateStore } from "./state_store.ts";
import { copyJobState } from "./job_state.ts";
import type { StoreMirror } from "./_mirror.ts";
import type { OutageGate } from "./_outage_gate.ts";
import { requireSavableState } from "./_store_input.ts";

/**
 * `primary` as the leased writes of `guard`'s leases.
 *
 * @throws {InvalidJobError} kind `other` when it does not write them.
 */
function leasedPrimary(
  primary: StateStore,
  guard: ExecutionGuard,
  method: string,
): LeasedStateWrites {
  if (!canWriteLeased(primary, guard)) {
    throw new InvalidJobError(
      `ResilientStateStore.${method}() needs a primary store that writes the leases of this guard (sharesWith), got ${
        describeValue(guard)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  return primary;
}

/** Whether `error` is a guard's outage (kind `connection`). */
function isGuardOutage(error: unknown): boolean {
  return isInstance(error, ExecutionGuardError) &&
    error.kind === ExecutionGuardErrorKind.Connection;
}

/**
 * The guard's outage a lease's grant or end fails with while the primary
 * cannot be reached: `outage` itself when it is one.
 */
function leaseOutage(
  what: string,
  jobId: string,
  outage: unknown,
): ExecutionGuardError {
  if (isGuardOutage(outage)) return outage as ExecutionGuardError;
  return new ExecutionGuardError(
    `${what} of job ${
      JSON.stringify(jobId)
    }: the primary store cannot be reached (${
      outage === undefined ? "degraded" : describeThrown(outage)
    })`,
    { kind: ExecutionGuardErrorKind.Connection, cause: outage },
  );
}

/** What the leased writes share with their resilient store. */
export interface ResilientLeasedOptions {
  readonly primary: StateStore;
  readonly mirror: StoreMirror;
  readonly gate: OutageGate;
  readonly isConnectionError: (error: unknown) => boolean;
  /** Runs a call after the store's pending ones. */
  readonly serialized: <T>(call: () => Promise<T>) => Promise<T>;
}

/** The leased writes of a resilient store, passed to its primary. */
export class ResilientLeasedWrites {
  readonly #o: ResilientLeasedOptions;

  constructor(options: ResilientLeasedOptions) {
    this.#o = options;
  }

  /**
   * The primary's grant; while it cannot be reached (asked even while
   * degraded, as the guard would be), the guard's outage.
   */
  // deno-lint-ignore require-await
  async saveAndAcquire(request: SaveAndAcquire): Promise<LeasedAcquire> {
    const { mirror, isConnectionError } = this.#o;
    const primary = leasedPrimary(
      this.#o.primary,
      request.guard,
      "saveAndAcquire",
    );
    requireSavableState(request.state);
    const copy = copyJobState(request.state);
    return this.#o.serialized(() =>
      this.#o.gate.call({
        operation: StoreOperation.Save,
        jobId: copy.jobId,
        probeNow: true,
        isOutage: (error) => isConnectionError(error) || isGuardOutage(error),
        onPrimary: async () => {
          const answer = await primary.saveAndAcquire({
            ...request,
            state: copyJobState(copy),
          });
          mirror.save(copy);
          return answer;
        },
        // Not kept for the write-back: a grant that failed saves nothing, so
        // an occurrence is never consumed without its lease (and record).
        onMirror: (outage) => {
          throw leaseOutage("no lease granted", copy.jobId, outage);
        },
      })
    );
  }

  /**
   * The primary's end; while it cannot be reached, the state saved in the
   * mirror as a save is, and the guard's outage (the end unconfirmed).
   */
  async saveAndEnd(request: SaveAndEnd): Promise<void> {
    const { mirror } = this.#o;
    const primary = leasedPrimary(this.#o.primary, request.guard, "saveAndEnd");
    requireSavableState(request.state);
    // A lease refused before anything is written must not reach the mirror
    // as if the primary had saved (an ExecutionGuardError means it had).
    requireLeaseOf(request.lease, request.state.jobId);
    const copy = copyJobState(request.state);
    const unconfirmed = await this.#o.serialized(() =>
      this.#o.gate.call<unknown>({
        operation: StoreOperation.Save,
        jobId: copy.jobId,
        probeNow: true,
        onPrimary: async () => {
          try {
            await primary.saveAndEnd({ ...request, state: copyJobState(copy) });
          } catch (error) {
            // The guard's error: saved, only the lease's end is in doubt.
            if (!isInstance(error, ExecutionGuardError)) throw error;
            mirror.save(copy);
            return error;
          }
          mirror.save(copy);
          return undefined;
        },
        onMirror: (outage) => {
          mirror.saveWhileDown(copy);
          return leaseOutage("the lease's end unconfirmed", copy.jobId, outage);
        },
      })
    );
    if (unconfirmed !== undefined) throw unconfirmed;
  }
}
