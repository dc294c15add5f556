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
import type { ExecutionLease } from "../guard/lease.ts";
import { LATEST_LEASE_END_MS } from "../guard/lease_config.ts";

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
 * The lease record `value` read from `key`. A deadline further ahead than
 * any grant or done marker can write (`MAX_LEASE_MS` from now, plus
 * `DEADLINE_SKEW_MS`) is corrupt too: like `Infinity`, it would hold the
 * occurrence for years (a host whose clock ran years ahead, a hand edit).
 *
 * @throws {ExecutionGuardError} kind `data` for a corrupt record.
 */
export function readLeaseRecord(
  value: unknown,
  jobId: string,
  key: Deno.KvKey,
): LeaseRecord {
  const where = `the lease record ${describeKvKey(key)} of job ${
    JSON.stringify(jobId)
  }`;
  if (!isLeaseRecord(value)) {
    throw new ExecutionGuardError(
      `${where} is corrupt: ${describeValue(value)}`,
      { kind: ExecutionGuardErrorKind.Data },
    );
  }
  const latest = Date.now() + LATEST_LEASE_END_MS;
  if (value.deadline > latest) {
    throw new ExecutionGuardError(
      `${where} is corrupt: its deadline (${value.deadline} ms since 1970) is further ahead than the longest lease (365 days) plus a day of clock skew allows (${
        formatRfc3339(latest, "auto")
      })`,
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

/** A new holder's record: a fresh token, held until `deadline`. */
export function heldLease(
  fencingToken: bigint,
  deadline: number,
): LeaseRecord {
  return { token: crypto.randomUUID(), fencingToken, status: "held", deadline };
}

/** The lease a grant of `record` for the occurrence hands to its holder. */
export function grantedLease(
  options: {
    prefix: Deno.KvKey;
    jobId: string;
    scheduledAt: Date;
    record: LeaseRecord;
  },
): ExecutionLease {
  const { prefix, jobId, scheduledAt, record } = options;
  return {
    jobId,
    scheduledAt: new Date(scheduledAt.getTime()),
    token: record.token,
    leaseKey: leaseKeyText(prefix, jobId, scheduledAt),
    fencingToken: record.fencingToken,
  };
}

/**
 * Adds to `operation` the end of the held lease `held` at `key` after its
 * run: marked done for `retentionMs` (so that a lagging instance cannot run
 * the occurrence again), or deleted when there is no retention.
 */
export function markDone(
  operation: Deno.AtomicOperation,
  options: { key: Deno.KvKey; held: LeaseRecord; retentionMs: number },
): Deno.AtomicOperation {
  const { key, held, retentionMs } = options;
  if (retentionMs <= 0) return operation.delete(key);
  return operation.set(
    key,
    { ...held, status: "done", deadline: Date.now() + retentionMs },
    { expireIn: retentionMs },
  );
}
