/**
 * The in-flight ledger of the single-instance guard, in memory: records live
 * as long as the process, like the InMemoryStateStore's states.
 *
 * Runtime-neutral.
 *
 * @module
 */

import type {
  ExecutionGuardAcquire,
  ExecutionLease,
} from "./execution_guard.ts";
import type {
  InFlightLedger,
  InFlightRecord,
  InFlightSlot,
} from "./in_flight.ts";

let holders = 0;

/**
 * Grants every slot (as `NoopExecutionGuard` does) and keeps its record
 * until the run completes. Its holders are in this process, so a record is
 * never expired while the process lives; a crash loses the records along
 * with any in-memory state, which is why surviving a crash needs a shared
 * guard (Valkey or Deno KV).
 */
export class InMemoryInFlightLedger implements InFlightLedger {
  readonly #records = new Map<string, InFlightRecord>();

  /** Grants the slot and records it. */
  acquire(slot: InFlightSlot): Promise<ExecutionGuardAcquire> {
    const holder = `memory-${++holders}`;
    const scheduledAt = new Date(slot.scheduledAt.getTime());
    this.#records.set(this.#key(slot.jobId, scheduledAt), {
      jobId: slot.jobId,
      scheduledAt,
      triggerCount: slot.triggerCount,
      catchUp: slot.catchUp,
      holder,
      leaseDeadline: new Date(8.64e15),
      remainingMs: Number.POSITIVE_INFINITY,
    });
    return Promise.resolve({
      kind: "acquired",
      lease: { jobId: slot.jobId, scheduledAt, token: holder, leaseKey: "" },
    });
  }

  /** Clears the record if `lease` holds it. */
  complete(lease: ExecutionLease): Promise<void> {
    const key = this.#key(lease.jobId, lease.scheduledAt);
    if (this.#records.get(key)?.holder === lease.token) {
      this.#records.delete(key);
    }
    return Promise.resolve();
  }

  /** Nobody in this process could reclaim it: the record goes. */
  abandon(lease: ExecutionLease): Promise<void> {
    return this.complete(lease);
  }

  /** The job's records, oldest occurrence first. */
  list(jobId: string): Promise<InFlightRecord[]> {
    return Promise.resolve(
      [...this.#records.values()]
        .filter((record) => record.jobId === jobId)
        .sort((a, b) => a.scheduledAt.getTime() - b.scheduledAt.getTime())
        .map((record) => ({ ...record })),
    );
  }

  /** Never reclaimable: every holder is alive while the process is. */
  reclaim(_record: InFlightRecord): Promise<ExecutionGuardAcquire> {
    return Promise.resolve({ kind: "contended" });
  }

  #key(jobId: string, scheduledAt: Date): string {
    return `${jobId}\u0000${scheduledAt.getTime()}`;
  }
}
