/**
 * What a lease is taken for and what granting, renewing it answers: the
 * types that the execution guard contract and the in-flight ledger share.
 *
 * Runtime-neutral.
 *
 * @module
 */

/**
 * One occurrence of a job: what a lease is taken for.
 *
 * @example
 * ```ts
 * import type { ExecutionSlot } from "@cloudiful/scheduler";
 * const slot: ExecutionSlot = { jobId: "report", scheduledAt: new Date("2026-04-03T01:00:00Z") };
 * console.log(slot.jobId);
 * ```
 */
export interface ExecutionSlot {
  /** The job id. */
  jobId: string;
  /** The occurrence's scheduled instant. */
  scheduledAt: Date;
}

/**
 * Proof that this instance holds an occurrence.
 *
 * @example
 * ```ts
 * import type { ExecutionLease } from "@cloudiful/scheduler";
 * const lease: ExecutionLease = {
 *   jobId: "report",
 *   scheduledAt: new Date(0),
 *   token: "t-1",
 *   leaseKey: "report:1970-01-01T00:00:00.000000000Z",
 *   fencingToken: 7n,
 * };
 * console.log(lease.fencingToken); // 7n
 * ```
 */
export interface ExecutionLease {
  /** The job id. */
  jobId: string;
  /** The occurrence's scheduled instant. */
  scheduledAt: Date;
  /** This holder's unique token; renew and release act only for it. */
  token: string;
  /** Where the guard keeps the lease. */
  leaseKey: string;
  /**
   * Strictly greater than every earlier grant's for the same job id: a sink
   * that remembers the highest token it has seen can reject writes from a
   * holder whose lease was lost.
   */
  fencingToken?: bigint;
}

/**
 * The answer to an acquire: the lease, or `contended` when another instance
 * holds (or has completed) the occurrence, or may (then with a `note`).
 *
 * @example
 * ```ts
 * import type { ExecutionGuardAcquire } from "@cloudiful/scheduler";
 * const answer: ExecutionGuardAcquire = { kind: "contended" };
 * console.log(answer.kind);
 * ```
 */
export type ExecutionGuardAcquire =
  | { kind: "acquired"; lease: ExecutionLease }
  | {
    kind: "contended";
    /**
     * Why the guard could not tell whose the occurrence is, when it could
     * not (for example a Valkey lease key holding a value that is no
     * known token): the scheduler adds it to its
     * `execution-guard-contended` event, so that no such skip is silent.
     */
    note?: string;
  };

/**
 * The answer to a renewal: `lost` when the lease is no longer held.
 *
 * @example
 * ```ts
 * import type { ExecutionGuardRenewal } from "@cloudiful/scheduler";
 * const renewal: ExecutionGuardRenewal = "renewed";
 * console.log(renewal);
 * ```
 */
export type ExecutionGuardRenewal = "renewed" | "lost";
