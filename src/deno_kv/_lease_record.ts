/**
 * The lease records of the Deno KV guard: what a lease key holds, how a
 * record read back is checked, and the text form of a lease key that leases
 * carry. Shared by the guard's lease commands and its in-flight ledger.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import { ExecutionGuardErrorKind } from "../constants.ts";
import { describeValue, ExecutionGuardError } from "../errors.ts";
import { formatRfc3339 } from "../schedule/_rfc3339.ts";
import { describeKvKey } from "./_kv_errors.ts";

/** What a lease key holds. */
export interface LeaseRecord {
  readonly token: string;
  readonly fencingToken: bigint;
  /** `held` while a run holds it, `done` once released. */
  readonly status: "held" | "done";
  /** Held: when the lease ends unless renewed. Done: when the marker ends. */
  readonly deadline: number;
}

/** Attempts when another process changes the keys between read and commit. */
export const MAX_CONFLICTS = 50;

function isLeaseRecord(value: unknown): value is LeaseRecord {
  const record = value as LeaseRecord | null;
  return typeof record === "object" && record !== null &&
    typeof record.token === "string" &&
    typeof record.fencingToken === "bigint" &&
    (record.status === "held" || record.status === "done") &&
    typeof record.deadline === "number" &&
    // Infinity would hold the occurrence forever, NaN would count as
    // expired: both are corrupt records, not leases.
    Number.isFinite(record.deadline);
}

/**
 * The lease record `value` read from `key`.
 *
 * @throws {ExecutionGuardError} kind `data` for a corrupt record.
 */
export function readLeaseRecord(
  value: unknown,
  jobId: string,
  key: Deno.KvKey,
): LeaseRecord {
  if (!isLeaseRecord(value)) {
    throw new ExecutionGuardError(
      `the lease record ${describeKvKey(key)} of job ${
        JSON.stringify(jobId)
      } is corrupt: ${describeValue(value)}`,
      { kind: ExecutionGuardErrorKind.Data },
    );
  }
  return value;
}

/** The lease key's text form, as the guard's leases carry it. */
export function leaseKeyText(
  prefix: Deno.KvKey,
  jobId: string,
  scheduledAt: Date,
): string {
  return [
    ...prefix.map(String),
    jobId,
    formatRfc3339(scheduledAt.getTime(), 9),
  ].join(":");
}
