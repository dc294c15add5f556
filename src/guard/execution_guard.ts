/**
 * The execution guard contract: per-occurrence leases that let only one of
 * many scheduler instances run each occurrence.
 *
 * Runtime-neutral.
 *
 * @module
 */

import type { InFlightLedger } from "./in_flight.ts";
import type {
  ExecutionGuardAcquire,
  ExecutionGuardRenewal,
  ExecutionLease,
  ExecutionSlot,
} from "./lease.ts";

// The contract's own types, defined beside it so that the in-flight ledger
// can use them too.
export type {
  ExecutionGuardAcquire,
  ExecutionGuardRenewal,
  ExecutionLease,
  ExecutionSlot,
} from "./lease.ts";

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
