/**
 * The in-flight ledger of the Valkey guard (at-least-once delivery). Each
 * operation is one Lua script, sent as one command.
 *
 * Keys (built by `_key_layout.ts`, beside the lease keys and the fencing
 * counter, in the job's slot with the `"cluster"` layout): one hash per job,
 * `<prefix><jobId>:in-flight`, whose fields are the occurrences' timestamps
 * (RFC 3339 UTC, nine fractional digits, as in the lease keys) and whose
 * values are JSON records `{"job_id","scheduled_at","trigger_count",
 * "catch_up","fencing_token","holder","lease_deadline_ms"}`. A Rust instance
 * never reads that hash; it sees held and done occurrences through the lease
 * keys as before. The scripts are in `_lua_in_flight.ts`.
 *
 * @module
 */

import { formatRfc3339, parseRfc3339 } from "../schedule/_rfc3339.ts";
import { commands, type SchedulerCommands } from "./_commands.ts";
import type { ValkeyKeys } from "./_key_layout.ts";
import { ExecutionGuardErrorKind } from "../constants.ts";
import { describeValue, ExecutionGuardError, isInstance } from "../errors.ts";
import {
  setAsideGrantKeys,
  setAsideOrphan,
  setAsideUndecodable,
} from "./_quarantine.ts";
import type { ExecutionGuardAcquire, ExecutionLease } from "../guard/lease.ts";
import type { GuardCall } from "./_guard_errors.ts";
import type {
  InFlightLedger,
  InFlightRecord,
  InFlightSlot,
} from "../guard/in_flight.ts";
import type { ResolvedLeaseConfig } from "../guard/lease_config.ts";
import type { ValkeyClient } from "./_open_client.ts";
import { requireSlot } from "../guard/lease_config.ts";

/** What the ledger needs from its guard. */
export interface ValkeyLedgerOptions {
  readonly lease: ResolvedLeaseConfig;
  /** The guard's keys. */
  readonly keys: ValkeyKeys;
  /** Runs a script on the guard's client, retried, failures typed. */
  readonly call: <T>(
    call: Omit<GuardCall, "client">,
    body: (client: ValkeyClient) => Promise<T>,
  ) => Promise<T>;
  /** The highest fencing token the guard has seen for `jobId`. */
  readonly floor: (jobId: string) => bigint;
  /**
   * Runs a granting script on the guard's client, retried, failures typed,
   * and answers as the guard does (with its `WAIT` when durable).
   */
  readonly grant: (
    call: Omit<GuardCall, "client">,
    lease: Omit<ExecutionLease, "fencingToken">,
    script: (c: SchedulerCommands) => Promise<unknown>,
  ) => Promise<ExecutionGuardAcquire>;
}

/** The JSON head of `slot`'s record; the granting script writes its tail. */
export function recordHead(slot: InFlightSlot, at: string): string {
  return `{"job_id":${JSON.stringify(slot.jobId)},"scheduled_at":"${at}",` +
    `"trigger_count":${slot.triggerCount},"catch_up":${slot.catchUp}`;
}

/**
 * The holder a record names, or "" when it does not decode (the record is
 * then reported as corrupt by the decoding that follows).
 */
function holderOf(text: string): string {
  try {
    const holder = JSON.parse(text)?.holder;
    return typeof holder === "string" ? holder : "";
  } catch {
    return "";
  }
}

/** The Valkey guard's in-flight ledger. */
export class ValkeyInFlightLedger implements InFlightLedger {
  readonly #options: ValkeyLedgerOptions;

  constructor(options: ValkeyLedgerOptions) {
    this.#options = options;
  }

  /** Acquire plus the record, in one script. */
  async acquire(slot: InFlightSlot): Promise<ExecutionGuardAcquire> {
    const scheduledAt = requireSlot(slot);
    const at = formatRfc3339(scheduledAt.getTime(), 9);
    const token = crypto.randomUUID();
    const keys = this.#keys(slot.jobId, at);
    const lease = {
      jobId: slot.jobId,
      scheduledAt,
      token,
      leaseKey: keys.lease,
    };
    return await this.#granting(
      "acquire",
      lease,
      at,
      (c) =>
        c.inFlightAcquire(keys, {
          holder: token,
          ttlMs: this.#options.lease.ttlMs,
          field: at,
          head: recordHead(slot, at),
          floor: String(this.#options.floor(slot.jobId)),
        }),
    );
  }

  /** Release plus the record cleared, in one script. */
  async complete(lease: ExecutionLease): Promise<void> {
    const at = formatRfc3339(lease.scheduledAt.getTime(), 9);
    const inFlight = this.#options.keys.inFlight(lease.jobId);
    await this.#call(
      "complete",
      lease.jobId,
      (c) =>
        c.inFlightComplete({ lease: lease.leaseKey, inFlight }, {
          holder: lease.token,
          retentionMs: this.#options.lease.completedRetentionMs,
          field: at,
        }),
    );
  }

  /** Ends the lease (no done marker) and keeps the record, in one script. */
  async abandon(lease: ExecutionLease): Promise<void> {
    await this.#call(
      "release",
      lease.jobId,
      (c) => c.inFlightAbandon(lease.leaseKey, lease.token),
    );
  }

  /**
   * The job's records with their leases' remaining time, oldest first: the
   * hash, then one script over the records' lease keys (every key a script
   * touches is declared, as a Cluster requires). A record completed in
   * between shows a lease of 0 ms; reclaim checks again atomically.
   */
  async list(jobId: string): Promise<InFlightRecord[]> {
    const hashKey = this.#options.keys.inFlight(jobId);
    const all = await this.#call(
      "list",
      jobId,
      (_c, client) => client.hgetall(hashKey),
    );
    if (typeof all !== "object" || all === null) {
      throw this.#corrupt(jobId, all);
    }
    const entries = Object.entries(all as Record<string, string>);
    const holders = entries.map(([, text]) => holderOf(text));
    const leaseKeys = entries.map(([field]) =>
      this.#options.keys.lease(jobId, field)
    );
    const remaining = entries.length === 0 ? [] : await this.#call(
      "list",
      jobId,
      (c) => c.inFlightLeases(leaseKeys, holders),
    );
    if (!Array.isArray(remaining) || remaining.length !== entries.length) {
      throw this.#corrupt(jobId, remaining);
    }
    let records: InFlightRecord[];
    try {
      records = entries.map(([field, text], i) =>
        this.#decode(jobId, { field, text }, Number(remaining[i]))
      );
    } catch {
      throw await this.#setAsideUndecodable(jobId);
    }
    return records.sort((a, b) =>
      a.scheduledAt.getTime() - b.scheduledAt.getTime()
    );
  }

  /** Takes over an expired record, in one script. */
  async reclaim(record: InFlightRecord): Promise<ExecutionGuardAcquire> {
    const at = formatRfc3339(record.scheduledAt.getTime(), 9);
    const token = crypto.randomUUID();
    const keys = this.#keys(record.jobId, at);
    const { jobId, scheduledAt } = record;
    const lease = { jobId, scheduledAt, token, leaseKey: keys.lease };
    return await this.#granting(
      "reclaim",
      lease,
      at,
      (c) =>
        c.inFlightReclaim(keys, {
          holder: token,
          ttlMs: this.#options.lease.ttlMs,
          field: at,
          expected: record.holder,
          head: recordHead(record, at),
          floor: String(this.#options.floor(record.jobId)),
        }),
      record.holder,
    );
  }

  /**
   * A granting script (acquire, reclaim); on a data error, the damaged
   * counter or lease key is set aside, and a reclaim that finds the record
   * orphaned sets it aside (see _quarantine.ts).
   */
  async #granting(
    operation: "acquire" | "reclaim",
    lease: Omit<ExecutionLease, "fencingToken">,
    at: string,
    script: (c: SchedulerCommands) => Promise<unknown>,
    holder?: string,
  ): Promise<ExecutionGuardAcquire> {
    const { keys } = this.#options;
    const { jobId, token } = lease;
    const aside = <T>(body: (client: ValkeyClient) => Promise<T>) =>
      this.#options.call({ operation, jobId }, body);
    let answer: ExecutionGuardAcquire;
    try {
      answer = await this.#options.grant({ operation, jobId }, lease, script);
    } catch (error) {
      if (!isInstance(error, ExecutionGuardError)) throw error;
      throw await aside((client) =>
        setAsideGrantKeys(client, {
          error,
          keys,
          jobId,
          at,
          token,
          record: true,
        })
      );
    }
    if (answer.kind !== "contended" || holder === undefined) return answer;
    // A contended reclaim, or an orphan that would stay contended for ever.
    const orphan = await aside((client) =>
      setAsideOrphan(client, { keys, jobId, field: at, holder })
    );
    if (orphan !== undefined) throw orphan;
    return answer;
  }

  /** Sets aside the job's records that do not decode (see _quarantine.ts). */
  #setAsideUndecodable(jobId: string): Promise<ExecutionGuardError> {
    return this.#options.call(
      { operation: "list", jobId },
      (client) =>
        setAsideUndecodable(client, {
          keys: this.#options.keys,
          jobId,
          decode: (text, field) => this.#decode(jobId, { field, text }, 0),
        }),
    );
  }

  #keys(jobId: string, at: string) {
    const { keys } = this.#options;
    return {
      lease: keys.lease(jobId, at),
      fence: keys.fence(jobId),
      inFlight: keys.inFlight(jobId),
    };
  }

  #call(
    operation: string,
    jobId: string,
    body: (c: SchedulerCommands, client: ValkeyClient) => Promise<unknown>,
  ): Promise<unknown> {
    return this.#options.call(
      { operation, jobId },
      (client) => body(commands(client), client),
    );
  }

  /**
   * The record `text` at hash field `field`. A reclaim finds a record by
   * the field of the instant it holds, so a record whose instant is not its
   * field's (hand-edited, copied) would never be taken over and would keep
   * an at-least-once `run()` waiting for ever: it is corrupt too.
   */
  #decode(
    jobId: string,
    { field, text }: { field: string; text: unknown },
    remaining: number,
  ): InFlightRecord {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(String(text));
    } catch {
      throw this.#corrupt(jobId, text);
    }
    const scheduledAt = typeof value?.scheduled_at === "string"
      ? parseRfc3339(value.scheduled_at)
      : undefined;
    if (
      value?.job_id !== jobId || scheduledAt === undefined ||
      formatRfc3339(scheduledAt, 9) !== field ||
      !Number.isSafeInteger(value.trigger_count) ||
      typeof value.catch_up !== "boolean" ||
      typeof value.holder !== "string" ||
      typeof value.fencing_token !== "string" ||
      !/^\d+$/.test(value.fencing_token) ||
      typeof value.lease_deadline_ms !== "number" ||
      !Number.isFinite(remaining)
    ) {
      throw this.#corrupt(jobId, text);
    }
    return {
      jobId,
      scheduledAt: new Date(scheduledAt),
      triggerCount: value.trigger_count as number,
      catchUp: value.catch_up,
      holder: value.holder,
      fencingToken: BigInt(value.fencing_token),
      leaseDeadline: new Date(value.lease_deadline_ms),
      remainingMs: Math.max(0, remaining),
    };
  }

  #corrupt(jobId: string, value: unknown): ExecutionGuardError {
    return new ExecutionGuardError(
      `an in-flight record of job ${JSON.stringify(jobId)} is corrupt: ${
        describeValue(value)
      }`,
      { kind: ExecutionGuardErrorKind.Data },
    );
  }
}
