/**
 * The execution guard contract: per-occurrence leases that let only one of
 * many scheduler instances run each occurrence.
 *
 * Runtime-neutral.
 *
 * @module
 */

import type { InFlightLedger } from "./in_flight.ts";

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
 * holds (or has completed) the occurrence.
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
  | { kind: "contended" };

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

/**
 * Gives at most one run per occurrence among all instances that share it.
 *
 * The scheduler asks for a slot before each trigger starts, renews the lease
 * every `renewIntervalMs(lease)` while the run is active (a `lost` renewal
 * aborts the run's signal and shuts the scheduler down), and releases it
 * afterwards. Failures are {@linkcode ExecutionGuardError}s.
 *
 * @example A guard that lets every occurrence run once per process
 * ```ts
 * import type { ExecutionGuard, ExecutionLease, ExecutionSlot } from "@cloudiful/scheduler";
 * class OncePerProcess implements ExecutionGuard {
 *   #taken = new Set<string>();
 *   acquire(slot: ExecutionSlot) {
 *     const key = `${slot.jobId}@${slot.scheduledAt.toISOString()}`;
 *     if (this.#taken.has(key)) return Promise.resolve({ kind: "contended" as const });
 *     this.#taken.add(key);
 *     return Promise.resolve({
 *       kind: "acquired" as const,
 *       lease: { ...slot, token: key, leaseKey: key },
 *     });
 *   }
 *   renew(_lease: ExecutionLease) { return Promise.resolve("renewed" as const); }
 *   release(_lease: ExecutionLease) { return Promise.resolve(); }
 * }
 * ```
 */
export interface ExecutionGuard {
  /** Tries to take the occurrence. */
  acquire(slot: ExecutionSlot): Promise<ExecutionGuardAcquire>;
  /** Extends the lease if this holder still has it. */
  renew(lease: ExecutionLease): Promise<ExecutionGuardRenewal>;
  /** Gives the lease up (marking the occurrence done), if still held. */
  release(lease: ExecutionLease): Promise<void>;
  /** How often to renew while the run is active; `undefined` = never. */
  renewIntervalMs?(lease: ExecutionLease): number | undefined;
  /**
   * The in-flight ledger that at-least-once delivery uses; guards without
   * one serve at-most-once jobs only.
   */
  readonly inFlight?: InFlightLedger;
}

/**
 * The guard of a single instance: always acquires, never renews, carries no
 * fencing token.
 *
 * @example
 * ```ts
 * import { NoopExecutionGuard } from "@cloudiful/scheduler";
 * const answer = await new NoopExecutionGuard().acquire({ jobId: "a", scheduledAt: new Date() });
 * console.log(answer.kind); // acquired
 * ```
 */
export class NoopExecutionGuard implements ExecutionGuard {
  /**
   * Always grants the slot, with an empty token and lease key.
   *
   * @example
   * ```ts
   * import { NoopExecutionGuard } from "@cloudiful/scheduler";
   * await new NoopExecutionGuard().acquire({ jobId: "a", scheduledAt: new Date() });
   * ```
   */
  acquire(slot: ExecutionSlot): Promise<ExecutionGuardAcquire> {
    return Promise.resolve({
      kind: "acquired",
      lease: {
        jobId: slot.jobId,
        scheduledAt: slot.scheduledAt,
        token: "",
        leaseKey: "",
      },
    });
  }

  /**
   * Always `renewed`.
   *
   * @example
   * ```ts
   * import { NoopExecutionGuard } from "@cloudiful/scheduler";
   * const guard = new NoopExecutionGuard();
   * console.log(await guard.renew({ jobId: "a", scheduledAt: new Date(), token: "", leaseKey: "" }));
   * ```
   */
  renew(_lease: ExecutionLease): Promise<ExecutionGuardRenewal> {
    return Promise.resolve("renewed");
  }

  /**
   * Does nothing.
   *
   * @example
   * ```ts
   * import { NoopExecutionGuard } from "@cloudiful/scheduler";
   * await new NoopExecutionGuard().release({ jobId: "a", scheduledAt: new Date(), token: "", leaseKey: "" });
   * ```
   */
  release(_lease: ExecutionLease): Promise<void> {
    return Promise.resolve();
  }
}
