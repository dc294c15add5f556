/**
 * The contract of a state store that shares one deployment with an
 * execution guard (one Deno KV database, one Valkey deployment): the writes
 * around a run done in one atomic operation each, instead of a store call
 * and one or two guard calls.
 *
 * Runtime-neutral.
 *
 * @module
 */

import type {
  ExecutionGuard,
  ExecutionGuardAcquire,
  ExecutionLease,
  ExecutionSlot,
} from "../guard/execution_guard.ts";
import type { InFlightSlot } from "../guard/in_flight.ts";
import type { JobState } from "./job_state.ts";
import type { StateStore } from "./state_store.ts";

/**
 * How a lease ends after its run: `release` gives it up (the plain guard
 * contract), `complete` clears its in-flight record (the occurrence is
 * done), `abandon` gives the occurrence back to be replayed.
 *
 * @example
 * ```ts
 * import type { LeaseEnd } from "@cloudiful/scheduler";
 * const end: LeaseEnd = "complete"; // the run finished: clear its record
 * console.log(end);
 * ```
 */
export type LeaseEnd = "release" | "complete" | "abandon";

/**
 * What {@linkcode LeasedStateWrites.saveAndAcquire} writes.
 *
 * @example
 * ```ts
 * import { NoopExecutionGuard, type SaveAndAcquire } from "@cloudiful/scheduler";
 * const request: SaveAndAcquire = {
 *   guard: new NoopExecutionGuard(),
 *   state: {
 *     jobId: "nightly-report",
 *     triggerCount: 1,
 *     nextRunAt: new Date("2027-01-02T03:00:00Z"),
 *     lastRunAt: null,
 *     lastSuccessAt: null,
 *     lastError: null,
 *   },
 *   slot: { jobId: "nightly-report", scheduledAt: new Date("2027-01-01T03:00:00Z") },
 *   record: false,
 * };
 * console.log(request.slot.scheduledAt.toISOString());
 * ```
 */
export interface SaveAndAcquire {
  /** The guard whose lease is taken (one the store `sharesWith`). */
  readonly guard: ExecutionGuard;
  /** The state to save, merged over the stored one as `save` merges. */
  readonly state: JobState;
  /** The occurrence's slot; an {@linkcode InFlightSlot} when `record`. */
  readonly slot: ExecutionSlot | InFlightSlot;
  /** Whether the grant writes the occurrence's in-flight record. */
  readonly record: boolean;
}

/**
 * What {@linkcode LeasedStateWrites.saveAndEnd} writes.
 *
 * @example
 * ```ts
 * import { NoopExecutionGuard, type SaveAndEnd } from "@cloudiful/scheduler";
 * const scheduledAt = new Date("2027-01-01T03:00:00Z");
 * const request: SaveAndEnd = {
 *   guard: new NoopExecutionGuard(),
 *   state: {
 *     jobId: "nightly-report",
 *     triggerCount: 1,
 *     nextRunAt: new Date("2027-01-02T03:00:00Z"),
 *     lastRunAt: scheduledAt,
 *     lastSuccessAt: scheduledAt,
 *     lastError: null,
 *   },
 *   lease: { jobId: "nightly-report", scheduledAt, token: "t", leaseKey: "k" },
 *   end: "release",
 * };
 * console.log(request.end);
 * ```
 */
export interface SaveAndEnd {
  /** The guard that granted the lease (one the store `sharesWith`). */
  readonly guard: ExecutionGuard;
  /** The state to save, merged over the stored one as `save` merges. */
  readonly state: JobState;
  /** The lease the run held. */
  readonly lease: ExecutionLease;
  /** How the lease ends. */
  readonly end: LeaseEnd;
}

/**
 * What {@linkcode LeasedStateWrites.saveAndAcquire} answers: the guard's
 * answer, and, optionally, how many in-flight records the job's ledger
 * held after the grant. The scheduler does not look at the ledger before
 * each at-least-once decision when it grants through leased writes (a
 * contended grant makes it look, as docs/recovery.md says); a count above
 * its own runs' records makes it look before the next decision too.
 *
 * @example
 * ```ts
 * import type { LeasedAcquire } from "@cloudiful/scheduler";
 * const answer: LeasedAcquire = { kind: "contended", inFlight: 1 };
 * console.log(answer.kind);
 * ```
 */
export type LeasedAcquire = ExecutionGuardAcquire & {
  /** The job's in-flight records after the grant (its own included). */
  readonly inFlight?: number;
};

/**
 * A state store whose writes can carry a lease of a guard on the same
 * deployment: the scheduler then needs one atomic operation before a run
 * and one after it.
 *
 * @example Telling whether a store offers it
 * ```ts
 * import { canWriteLeased, InMemoryStateStore, NoopExecutionGuard } from "@cloudiful/scheduler";
 * const store = new InMemoryStateStore();
 * console.log(canWriteLeased(store, new NoopExecutionGuard())); // false
 * ```
 */
export interface LeasedStateWrites extends StateStore {
  /** Whether `guard`'s leases live in this store's deployment and keys. */
  sharesWith(guard: ExecutionGuard): boolean;
  /**
   * Saves `state` and tries to take `slot` (writing its in-flight record
   * when `record`) in one atomic operation. The state is saved whether or
   * not the slot is granted; a compare-and-set conflict is merged and
   * retried as `save` does, never granted on a state that was not saved.
   * A failure saves nothing and grants nothing: an `ExecutionGuardError`
   * kind `data` for damaged guard data (set aside, as the guard's acquire
   * does), another error for an outage.
   */
  saveAndAcquire(request: SaveAndAcquire): Promise<LeasedAcquire>;
  /**
   * Saves `state` and ends `lease` as `end` says, in one atomic operation
   * (a lease no longer this holder's is left alone, as the guard's release
   * leaves it). Rejects with an `ExecutionGuardError` when the state was
   * saved but the lease's end could not be confirmed (say, too few
   * replicas acknowledged it: reported as a failed release, the lease runs
   * out); with any other error when nothing was saved.
   */
  saveAndEnd(request: SaveAndEnd): Promise<void>;
}

/**
 * Whether `store` offers {@linkcode LeasedStateWrites} for `guard`'s
 * leases.
 *
 * @example
 * ```ts
 * import { canWriteLeased, InMemoryStateStore, NoopExecutionGuard } from "@cloudiful/scheduler";
 * console.log(canWriteLeased(new InMemoryStateStore(), new NoopExecutionGuard())); // false
 * ```
 */
export function canWriteLeased(
  store: StateStore,
  guard: ExecutionGuard,
): store is LeasedStateWrites {
  try {
    const writes = store as Partial<LeasedStateWrites>;
    return typeof writes.saveAndAcquire === "function" &&
      typeof writes.saveAndEnd === "function" &&
      typeof writes.sharesWith === "function" &&
      writes.sharesWith(guard) === true;
  } catch {
    return false; // a hostile proxy: use the plain contracts
  }
}
