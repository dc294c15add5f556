/**
 * The in-flight ledger: the optional capability of an execution guard that
 * at-least-once delivery needs. A lease granted through the ledger comes
 * with a record of the occurrence, written in the same atomic step; the
 * record is cleared when the run completes, and an instance that finds a
 * record whose lease expired (its holder died) reclaims it.
 *
 * Runtime-neutral.
 *
 * @module
 */

import type {
  ExecutionGuardAcquire,
  ExecutionLease,
  ExecutionSlot,
} from "./lease.ts";

/**
 * An occurrence about to run, with what a reclaimer needs to run it again.
 *
 * @example
 * ```ts
 * import type { InFlightSlot } from "@cloudiful/scheduler";
 * const slot: InFlightSlot = {
 *   jobId: "bill",
 *   scheduledAt: new Date("2026-04-03T01:00:00Z"),
 *   triggerCount: 4,
 *   catchUp: false,
 * };
 * console.log(slot.triggerCount);
 * ```
 */
export interface InFlightSlot extends ExecutionSlot {
  /** The occurrence's ordinal. */
  triggerCount: number;
  /** Whether the run makes up for lateness or several due occurrences. */
  catchUp: boolean;
}

/**
 * An in-flight record as listed by {@linkcode InFlightLedger.list}.
 *
 * @example
 * ```ts
 * import type { InFlightRecord } from "@cloudiful/scheduler";
 * function reclaimable(record: InFlightRecord): boolean {
 *   return record.remainingMs === 0;
 * }
 * ```
 */
export interface InFlightRecord extends InFlightSlot {
  /** The holder's lease token. */
  holder: string;
  /** The fencing token of the holder's grant, when the guard gives them. */
  fencingToken?: bigint;
  /** The lease deadline written with the record (at its grant). */
  leaseDeadline: Date;
  /**
   * How long the holder's lease still runs, as the guard sees it now
   * (renewals included); 0 when it expired, so the record is reclaimable.
   */
  remainingMs: number;
}

/**
 * The in-flight records of a guard. Every method is one atomic step of the
 * backend (one script on Valkey, one checked commit on Deno KV).
 *
 * @example Feature detection, as the scheduler does it
 * ```ts
 * import { type ExecutionGuard, NoopExecutionGuard } from "@cloudiful/scheduler";
 * const guard: ExecutionGuard = new NoopExecutionGuard();
 * console.log(guard.inFlight === undefined); // true: kept in memory instead
 * ```
 */
export interface InFlightLedger {
  /**
   * Like `acquire`, and writes the occurrence's in-flight record with the
   * grant, atomically.
   */
  acquire(slot: InFlightSlot): Promise<ExecutionGuardAcquire>;
  /**
   * Like `release`, and clears the record if this holder still owns it,
   * atomically.
   */
  complete(lease: ExecutionLease): Promise<void>;
  /**
   * Gives the occurrence back (its run was cancelled or lost its lease):
   * ends the lease if this holder still has it, without marking the
   * occurrence done, and keeps the record, so that it can be reclaimed at
   * once.
   */
  abandon(lease: ExecutionLease): Promise<void>;
  /** The job's in-flight records, oldest occurrence first. */
  list(jobId: string): Promise<InFlightRecord[]>;
  /**
   * Takes over a record whose lease expired, if it is still held by
   * `record.holder`: a new lease with a fencing token above every earlier
   * grant's, and the record rewritten for the new holder. `contended` when
   * the holder is alive or another reclaimer was first.
   */
  reclaim(record: InFlightRecord): Promise<ExecutionGuardAcquire>;
}
