/**
 * What an in-flight key of the Deno KV guard holds (at-least-once
 * delivery): the record written with a grant, how one read back is
 * checked. Shared by the in-flight ledger and the state store's leased
 * writes (`_leased_writes.ts`), which write the same records.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import { ExecutionGuardErrorKind } from "../constants.ts";
import { describeValue, ExecutionGuardError } from "../errors.ts";
import type { InFlightSlot } from "../guard/in_flight.ts";

/** What an in-flight key holds. */
export interface StoredRecord {
  readonly jobId: string;
  readonly scheduledAt: number;
  readonly triggerCount: number;
  readonly catchUp: boolean;
  readonly fencingToken: bigint;
  readonly holder: string;
  readonly leaseDeadline: number;
}

function isStoredRecord(value: unknown): value is StoredRecord {
  const record = value as StoredRecord | null;
  return typeof record === "object" && record !== null &&
    typeof record.jobId === "string" &&
    typeof record.scheduledAt === "number" &&
    Number.isSafeInteger(record.triggerCount) &&
    typeof record.catchUp === "boolean" &&
    typeof record.fencingToken === "bigint" &&
    typeof record.holder === "string" &&
    typeof record.leaseDeadline === "number";
}

/**
 * The in-flight record `value` of job `jobId`.
 *
 * @throws {ExecutionGuardError} kind `data` for a corrupt record.
 */
export function readStoredRecord(value: unknown, jobId: string): StoredRecord {
  if (!isStoredRecord(value) || value.jobId !== jobId) {
    throw new ExecutionGuardError(
      `an in-flight record of job ${JSON.stringify(jobId)} is corrupt: ${
        describeValue(value)
      }`,
      { kind: ExecutionGuardErrorKind.Data },
    );
  }
  return value;
}

/** The record a grant of `slot` to `holder` writes. */
export function newStoredRecord(
  slot: InFlightSlot,
  lease: { fencingToken: bigint; holder: string; leaseDeadline: number },
): StoredRecord {
  return {
    jobId: slot.jobId,
    scheduledAt: slot.scheduledAt.getTime(),
    triggerCount: slot.triggerCount,
    catchUp: slot.catchUp,
    ...lease,
  };
}
