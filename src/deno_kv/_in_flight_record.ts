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
import { describeKvKey } from "./_kv_errors.ts";

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

/** Where an in-flight record was read: its key, its guard's prefix, its job. */
export interface RecordAt {
  readonly key: Deno.KvKey;
  /** The guard's `keyPrefix`. */
  readonly prefix: Deno.KvKey;
  readonly jobId: string;
}

/**
 * The in-flight record `value` read at `at.key`. The key must be
 * `[...prefix, "in-flight", jobId, scheduledAtMs]` and the value a record of
 * that job and that instant, as a grant writes them: a reclaim looks a
 * record up by the instant it holds, so a record that does not match its
 * key (hand-edited, copied) would never be taken over and would keep an
 * at-least-once `run()` waiting for ever (docs/recovery.md).
 *
 * @throws {ExecutionGuardError} kind `data` for a corrupt record or key.
 */
export function readStoredRecord(value: unknown, at: RecordAt): StoredRecord {
  const { key, prefix, jobId } = at;
  const where = `the in-flight record ${describeKvKey(key)} of job ${
    JSON.stringify(jobId)
  }`;
  const scheduledAtMs = key[prefix.length + 2];
  if (
    key.length !== prefix.length + 3 || key[prefix.length] !== "in-flight" ||
    key[prefix.length + 1] !== jobId || typeof scheduledAtMs !== "number"
  ) {
    throw corrupt(
      `${where} is under a malformed key: an in-flight key ends with the job id and the occurrence's instant in ms`,
    );
  }
  if (!isStoredRecord(value) || value.jobId !== jobId) {
    throw corrupt(`${where} is corrupt: ${describeValue(value)}`);
  }
  if (value.scheduledAt !== scheduledAtMs) {
    throw corrupt(
      `${where} does not match its key: it holds scheduledAt ${
        describeValue(value.scheduledAt)
      }`,
    );
  }
  return value;
}

function corrupt(message: string): ExecutionGuardError {
  return new ExecutionGuardError(message, {
    kind: ExecutionGuardErrorKind.Data,
  });
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
