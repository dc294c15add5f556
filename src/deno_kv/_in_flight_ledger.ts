/**
 * The in-flight ledger of the Deno KV guard (at-least-once delivery). Each
 * write is one atomic commit checked against the versionstamps it read.
 *
 * Records live under `[...keyPrefix, "in-flight", jobId, scheduledAtMs]`
 * beside the leases (`[...keyPrefix, "lease", jobId, scheduledAtMs]`) and the
 * fencing counter (`[...keyPrefix, "fence", jobId]`).
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import type { ExecutionGuardAcquire, ExecutionLease } from "../guard/lease.ts";
import type {
  InFlightLedger,
  InFlightRecord,
  InFlightSlot,
} from "../guard/in_flight.ts";
import {
  requireSlot,
  type ResolvedLeaseConfig,
} from "../guard/lease_config.ts";
import type { CounterFound } from "../guard/fencing.ts";
import {
  grantedLease,
  heldLease,
  type LeaseRecord,
  markDone,
  MAX_CONFLICTS,
  readLeaseRecord,
} from "./_lease_record.ts";
import {
  newStoredRecord,
  readStoredRecord,
  type StoredRecord,
} from "./_in_flight_record.ts";
import { isDamage, readOrSetAside, setAside } from "./_quarantine.ts";
import { ExecutionGuardErrorKind } from "../constants.ts";
import { ExecutionGuardError } from "../errors.ts";
import { describeKvKey } from "./_kv_errors.ts";

/** The keys one occurrence's in-flight bookkeeping touches. */
interface InFlightKeys {
  readonly lease: Deno.KvKey;
  readonly fence: Deno.KvKey;
  readonly record: Deno.KvKey;
}

/** What the ledger borrows from its guard. */
export interface KvLedgerOptions {
  readonly kv: Deno.Kv;
  readonly lease: ResolvedLeaseConfig;
  readonly prefix: Deno.KvKey;
  /** Runs a guard operation with retries and typed errors. */
  readonly guarded: <T>(
    operation: string,
    jobId: string,
    body: () => Promise<T>,
  ) => Promise<T>;
  /**
   * The token to grant over the counter entry, as the guard's acquire does
   * (monotonic across a lost counter).
   */
  readonly nextToken: (
    jobId: string,
    fence: Deno.KvEntryMaybe<unknown>,
    now: number,
  ) => { fencingToken: bigint; counter: CounterFound };
  /** Tells the guard what a grant found, so that it reports a reset. */
  readonly reportReset: (
    grant: { jobId: string; fencingToken: bigint; counter: CounterFound },
  ) => void;
  /** The cleanup hint of a held lease. */
  readonly heldExpiry: () => number;
}

/** The Deno KV guard's in-flight ledger. */
export class DenoKvInFlightLedger implements InFlightLedger {
  readonly #o: KvLedgerOptions;

  constructor(options: KvLedgerOptions) {
    this.#o = options;
  }

  /** Acquire plus the record, in one checked commit. */
  async acquire(slot: InFlightSlot): Promise<ExecutionGuardAcquire> {
    const scheduledAt = requireSlot(slot);
    const { jobId } = slot;
    const keys = this.#keys(jobId, scheduledAt.getTime());
    return await this.#o.guarded("acquire", jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const [lease, fence, record] = await this.#o.kv.getMany<
          [unknown, unknown, unknown]
        >([keys.lease, keys.fence, keys.record]);
        const now = Date.now();
        if (lease.value !== null) {
          const held = await this.#readOrSetAside(
            lease,
            () => readLeaseRecord(lease.value, jobId, keys.lease),
          );
          if (held.deadline > now) return { kind: "contended" };
        }
        const granted = await this.#grant({
          slot: { ...slot, scheduledAt },
          entries: [lease, fence, record],
          keys,
          now,
        });
        if (granted !== undefined) return granted;
      }
      return { kind: "contended" };
    });
  }

  /** Release plus the record cleared, in one checked commit. */
  async complete(lease: ExecutionLease): Promise<void> {
    const { jobId } = lease;
    const keys = this.#keys(jobId, lease.scheduledAt.getTime());
    const retention = this.#o.lease.completedRetentionMs;
    await this.#o.guarded("release", jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const [entry, record] = await this.#o.kv.getMany<[unknown, unknown]>(
          [keys.lease, keys.record],
        );
        const operation = this.#o.kv.atomic().check(entry, record);
        let changed = false;
        if (
          record.value !== null &&
          this.#stored(record, jobId).holder === lease.token
        ) {
          operation.delete(keys.record);
          changed = true;
        }
        const held = entry.value === null
          ? undefined
          : readLeaseRecord(entry.value, jobId, keys.lease);
        if (held?.status === "held" && held.token === lease.token) {
          markDone(operation, {
            key: keys.lease,
            held,
            retentionMs: retention,
          });
          changed = true;
        }
        if (!changed || (await operation.commit()).ok) return;
      }
    });
  }

  /** Ends the lease (no done marker) and keeps the record. */
  async abandon(lease: ExecutionLease): Promise<void> {
    const { jobId } = lease;
    const key = this.#keys(jobId, lease.scheduledAt.getTime()).lease;
    await this.#o.guarded("release", jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const entry = await this.#o.kv.get<unknown>(key);
        if (entry.value === null) return;
        const held = readLeaseRecord(entry.value, jobId, key);
        if (held.status !== "held" || held.token !== lease.token) return;
        if ((await this.#o.kv.atomic().check(entry).delete(key).commit()).ok) {
          return;
        }
      }
    });
  }

  /** The job's records with their leases' remaining time, oldest first. */
  async list(jobId: string): Promise<InFlightRecord[]> {
    return await this.#o.guarded("list", jobId, async () => {
      const records: StoredRecord[] = [];
      const iterator = this.#o.kv.list<unknown>({
        prefix: [...this.#o.prefix, "in-flight", jobId],
      });
      const damaged: unknown[] = [];
      for await (const entry of iterator) {
        try {
          records.push(
            await this.#readOrSetAside(
              entry,
              () => this.#stored(entry, jobId),
            ),
          );
        } catch (error) {
          // Set aside; the others are still read, then all reported.
          damaged.push(error);
        }
      }
      if (damaged.length > 0) throw reportOf(damaged);
      const now = Date.now();
      const listed: InFlightRecord[] = [];
      // getMany reads at most 10 keys at a time.
      for (let i = 0; i < records.length; i += 10) {
        const batch = records.slice(i, i + 10);
        const leases = await this.#o.kv.getMany<unknown[]>(
          batch.map((record) => this.#keys(jobId, record.scheduledAt).lease),
        );
        batch.forEach((record, index) => {
          const { value, key } = leases[index];
          // An unreadable lease holds nothing: the reclaim sets it aside.
          let lease: LeaseRecord | undefined;
          try {
            lease = value === null
              ? undefined
              : readLeaseRecord(value, jobId, key);
          } catch {
            lease = undefined;
          }
          const alive = lease?.status === "held" &&
            lease.token === record.holder;
          listed.push(
            this.#toRecord(
              record,
              alive ? Math.max(0, lease!.deadline - now) : 0,
            ),
          );
        });
      }
      return listed.sort((a, b) =>
        a.scheduledAt.getTime() - b.scheduledAt.getTime()
      );
    });
  }

  /** Takes over an expired record, in one checked commit. */
  async reclaim(expired: InFlightRecord): Promise<ExecutionGuardAcquire> {
    const { jobId } = expired;
    const keys = this.#keys(jobId, expired.scheduledAt.getTime());
    return await this.#o.guarded("reclaim", jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const [lease, fence, record] = await this.#o.kv.getMany<
          [unknown, unknown, unknown]
        >([keys.lease, keys.fence, keys.record]);
        if (record.value === null) return { kind: "contended" };
        const stored = await this.#readOrSetAside(
          record,
          () => this.#stored(record, jobId),
        );
        if (stored.holder !== expired.holder) return { kind: "contended" };
        const now = Date.now();
        if (lease.value !== null) {
          const held = await this.#readOrSetAside(
            lease,
            () => readLeaseRecord(lease.value, jobId, keys.lease),
          );
          if (held.status === "done") {
            // Completed, but the record stayed (its holder was not the one
            // that completed it): an orphan that would keep run() waiting.
            throw await setAside(this.#o.kv, {
              prefix: this.#o.prefix,
              entry: record,
              reason:
                `the in-flight record ${describeKvKey(keys.record)} of job ${
                  JSON.stringify(jobId)
                } is orphaned: its occurrence ` +
                `was completed by another holder`,
            });
          }
          if (held.deadline > now) return { kind: "contended" };
        }
        const granted = await this.#grant({
          slot: { ...expired, scheduledAt: new Date(stored.scheduledAt) },
          entries: [lease, fence, record],
          keys,
          now,
        });
        if (granted !== undefined) return granted;
      }
      return { kind: "contended" };
    });
  }

  /**
   * Commits a new lease, the next fencing token and the record for the new
   * holder, checked against the three entries read; `undefined` when another
   * process changed one of them first.
   */
  async #grant(options: {
    slot: InFlightSlot;
    entries: Deno.KvEntryMaybe<unknown>[];
    keys: InFlightKeys;
    now: number;
  }): Promise<ExecutionGuardAcquire | undefined> {
    const { slot, entries, keys, now } = options;
    const { fencingToken, counter } = await this.#readOrSetAside(
      entries[1],
      () => this.#o.nextToken(slot.jobId, entries[1], now),
    );
    const lease = heldLease(fencingToken, now + this.#o.lease.ttlMs);
    const record = newStoredRecord(slot, {
      fencingToken,
      holder: lease.token,
      leaseDeadline: lease.deadline,
    });
    const committed = await this.#o.kv.atomic()
      .check(...entries)
      .set(keys.lease, lease, { expireIn: this.#o.heldExpiry() })
      .set(keys.fence, fencingToken)
      .set(keys.record, record)
      .commit();
    if (!committed.ok) return undefined;
    this.#o.reportReset({ jobId: slot.jobId, fencingToken, counter });
    return {
      kind: "acquired",
      lease: grantedLease({
        prefix: this.#o.prefix,
        jobId: slot.jobId,
        scheduledAt: slot.scheduledAt,
        record: lease,
      }),
    };
  }

  /** `read()`, or the damaged `entry` set aside (see _quarantine.ts). */
  #readOrSetAside<T>(
    entry: Deno.KvEntryMaybe<unknown>,
    read: () => T,
  ): Promise<T> {
    return readOrSetAside(this.#o.kv, { prefix: this.#o.prefix, entry }, read);
  }

  #keys(jobId: string, scheduledAtMs: number): InFlightKeys {
    const prefix = this.#o.prefix;
    return {
      lease: [...prefix, "lease", jobId, scheduledAtMs],
      fence: [...prefix, "fence", jobId],
      record: [...prefix, "in-flight", jobId, scheduledAtMs],
    };
  }

  /** The record `entry` holds, checked against its key. */
  #stored(entry: Deno.KvEntryMaybe<unknown>, jobId: string): StoredRecord {
    const { key, value } = entry;
    return readStoredRecord(value, { key, prefix: this.#o.prefix, jobId });
  }

  #toRecord(stored: StoredRecord, remainingMs: number): InFlightRecord {
    return {
      jobId: stored.jobId,
      scheduledAt: new Date(stored.scheduledAt),
      triggerCount: stored.triggerCount,
      catchUp: stored.catchUp,
      fencingToken: stored.fencingToken,
      holder: stored.holder,
      leaseDeadline: new Date(stored.leaseDeadline),
      remainingMs,
    };
  }
}

/**
 * One error for what a listing met: a failure that is no damage (a
 * connection error, retried as such), else the one damage set aside, or a
 * `data` error naming each (one event reports them all).
 */
function reportOf(damaged: unknown[]): unknown {
  const other = damaged.find((error) => !isDamage(error));
  if (other !== undefined || damaged.length === 1) return other ?? damaged[0];
  return new ExecutionGuardError(
    damaged.map((error) => (error as Error).message).join("; "),
    { kind: ExecutionGuardErrorKind.Data },
  );
}
