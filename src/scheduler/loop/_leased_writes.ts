/**
 * The engine's writes through a store that carries the guard's leases
 * (store/leased_writes.ts): before a run, the state saved with the grant
 * (and its in-flight record); after it, the run's record saved with the
 * lease's end. One atomic write each, in place of a guard call and a save.
 *
 * @module
 */

import { type RunStatus, StoreOperation } from "../../constants.ts";
import { ExecutionGuardError, isInstance } from "../../errors.ts";
import type {
  ExecutionGuardAcquire,
  ExecutionLease,
} from "../../guard/execution_guard.ts";
import type {
  LeasedAcquire,
  LeasedStateWrites,
  LeaseEnd,
} from "../../store/leased_writes.ts";
import { toStoreError } from "../../store/state_store.ts";
import type { Trigger } from "../rules/_decide.ts";
import { releaseFailedEvent } from "../run/_event_details.ts";
import type { EngineCore } from "./_engine_core.ts";

/** A grant through {@linkcode leasedGrant}. */
export interface LeasedGrant {
  /** Whether the state was saved (the write answered). */
  saved: boolean;
  /** Saves the state and asks for `trigger`'s slot. */
  acquire(trigger: Trigger): Promise<ExecutionGuardAcquire>;
}

/**
 * The grant through `store`: the current state saved with the trigger's
 * lease (and its in-flight record under a reclaimer). A failure that is not
 * the guard's (`ExecutionGuardError`) fails `run()` as a failed save does;
 * either way nothing was saved.
 */
export function leasedGrant<D>(
  core: EngineCore<D>,
  store: LeasedStateWrites,
): LeasedGrant {
  const reclaimer = core.delivery.reclaimer;
  const grant: LeasedGrant = {
    saved: false,
    acquire: async (trigger) => {
      let answer: LeasedAcquire;
      try {
        answer = await store.saveAndAcquire({
          guard: core.options.guard,
          state: core.savable(),
          slot: reclaimer?.slot(trigger) ??
            { jobId: core.jobId, scheduledAt: new Date(trigger.scheduledAt) },
          record: reclaimer !== undefined,
        });
      } catch (error) {
        if (!isInstance(error, ExecutionGuardError)) {
          core.fail(toStoreError(error, StoreOperation.Save, core.jobId));
        }
        throw error;
      }
      grant.saved = true;
      return reclaimer?.granted(answer) ?? answer;
    },
  };
  return grant;
}

/**
 * Saves the current state (which holds the run's record) and ends the lease
 * the run handed over, in one write: completed, or under at-least-once
 * given back when the run was cancelled (as `Reclaimer.settle` ends it).
 * A failure is reported as a failed release; unless it is the guard's
 * (`ExecutionGuardError`: saved, the lease's end unconfirmed) it also
 * fails `run()` as a failed save does (neither happened; the lease runs
 * out).
 */
export async function saveAndEndLease<D>(
  core: EngineCore<D>,
  ended: {
    readonly trigger: Trigger;
    readonly lease: ExecutionLease;
    readonly status: RunStatus;
  },
): Promise<void> {
  const { lease, status } = ended;
  const store = core.leased!;
  const write = (end: LeaseEnd) =>
    store.saveAndEnd({
      guard: core.options.guard,
      state: core.savable(),
      lease,
      end,
    });
  const reclaimer = core.delivery.reclaimer;
  try {
    await (reclaimer === undefined
      ? write("release")
      : reclaimer.settleWith(lease, status, write));
  } catch (error) {
    if (core.options.listens("execution-guard-release-failed")) {
      core.options.dispatch(
        releaseFailedEvent(core.jobId, ended.trigger, error),
      );
    }
    // The guard's error: saved, only the lease's end is in doubt.
    if (!isInstance(error, ExecutionGuardError)) {
      core.fail(toStoreError(error, StoreOperation.Save, core.jobId));
    }
  }
}
