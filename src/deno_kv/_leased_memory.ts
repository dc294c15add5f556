/**
 * What the Deno KV state store's leased writes (`_leased_writes.ts`)
 * remember between commits, so that a steady run reads nothing: the
 * entries its own commits wrote (the state, the fencing counter, each
 * granted lease and record, with their versionstamps), and the in-flight
 * records of each job as far as it knows them.
 *
 * That count of records is exact enough for the scheduler to skip its look
 * at the ledger before a decision (`LeasedStateWrites`): every grant, of
 * any instance and either path, writes the job's fencing counter in the
 * commit that writes a record, so while the counter's versionstamp is the
 * one remembered, no record was added that this store does not know of.
 * Records removed by others are still counted until the counter is read
 * again: the count may be high (the scheduler then looks), never low. A
 * read of the counter is followed by a listing of the records, in that
 * order, so that a record added in between changes the counter after the
 * read and fails the next commit's check.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import type { LeaseEnd } from "../store/leased_writes.ts";
import type { KnownEntry } from "./_state_writes.ts";
import type { Committed, LeasedKeys, Seen } from "./_leased_commits.ts";
import type { LeaseRecord } from "./_lease_record.ts";
import type { StoredRecord } from "./_in_flight_record.ts";
import { describeKvKey } from "./_kv_errors.ts";

function absent(key: Deno.KvKey): Seen {
  return { key, value: null, versionstamp: null };
}

function written(key: Deno.KvKey, value: unknown, versionstamp: string): Seen {
  return { key, value, versionstamp } as Seen;
}

/** A job's fencing counter as last seen, and its records then known. */
interface Fence {
  readonly entry: Seen;
  /** Scheduled instants of the job's records; unknown until listed. */
  readonly records?: Set<Deno.KvKeyPart>;
}

/** What a grant of this store wrote, so that its end needs no read. */
interface Granted {
  readonly lease: Seen;
  /** Absent when the grant wrote no record (then read before a complete). */
  readonly record?: Seen;
}

/** Leases remembered at most (a lease never ended is forgotten, not kept). */
const MAX_REMEMBERED = 1024;

/** One store's memory of its leased writes. */
export class LeasedMemory {
  readonly #kv: Deno.Kv;
  /** The store's entries last seen per job id, shared with its saves. */
  readonly #known: Map<string, KnownEntry>;
  readonly #fences = new Map<string, Fence>();
  /** Leases this store granted and has not ended yet, by token. */
  readonly #granted = new Map<string, Granted>();

  constructor(kv: Deno.Kv, known: Map<string, KnownEntry>) {
    this.#kv = kv;
    this.#known = known;
  }

  /**
   * The entries of a grant (state, lease, counter, record) without a read:
   * the state and counter as last seen, the occurrence's lease and record
   * taken as absent (a new occurrence's; a failed check reads them).
   */
  forGrant(keys: LeasedKeys, record: boolean): Seen[] | undefined {
    const state = this.#known.get(keys.jobId);
    const fence = this.#fences.get(keys.jobId);
    if (state === undefined || fence === undefined) return undefined;
    if (record && fence.records === undefined) return undefined;
    return [
      { key: keys.state, ...state } as Seen,
      absent(keys.lease),
      fence.entry,
      absent(keys.record),
    ];
  }

  /**
   * Reads a grant's entries in one `getMany`, then (for a grant with a
   * record, when the counter is not the one last seen) lists the records.
   */
  async readForGrant(keys: LeasedKeys, record: boolean): Promise<Seen[]> {
    const seen = await this.#read(keys, [
      keys.state,
      keys.lease,
      keys.fence,
      keys.record,
    ]);
    const before = this.#fences.get(keys.jobId);
    // The same counter: no record was added since they were known.
    let records = before?.entry.versionstamp === seen[2].versionstamp
      ? before?.records
      : undefined;
    if (record && records === undefined) {
      records = new Set();
      for await (const { key } of this.#kv.list({ prefix: keys.records })) {
        // A malformed key counts on its own, so that the ledger is looked
        // at and sets it aside (`_in_flight_record.ts`).
        records.add(
          key.length === keys.records.length + 1
            ? key[keys.records.length]
            : describeKvKey(key),
        );
      }
    }
    this.#fences.set(keys.jobId, { entry: seen[2], records });
    return seen;
  }

  /**
   * Takes note of a grant's commit; answers how many records the job has
   * after it, when it wrote one and the records are known.
   */
  granted(
    keys: LeasedKeys,
    committed: Committed & { lease?: LeaseRecord; record?: StoredRecord },
  ): number | undefined {
    this.#state(keys, committed);
    const { lease, record, versionstamp } = committed;
    if (lease === undefined) return undefined;
    const records = this.#fences.get(keys.jobId)?.records;
    if (record !== undefined) records?.add(record.scheduledAt);
    this.#fences.set(keys.jobId, {
      entry: written(keys.fence, lease.fencingToken, versionstamp),
      records,
    });
    this.#granted.set(lease.token, {
      lease: written(keys.lease, lease, versionstamp),
      record: record && written(keys.record, record, versionstamp),
    });
    if (this.#granted.size > MAX_REMEMBERED) {
      this.#granted.delete(this.#granted.keys().next().value!);
    }
    return record === undefined ? undefined : records?.size;
  }

  /** Forgets the job's counter (a grant met damage: read it again). */
  forget(jobId: string): void {
    this.#fences.delete(jobId);
  }

  /** The entries of an end (state, lease, record) without a read. */
  forEnd(keys: LeasedKeys, token: string, end: LeaseEnd): Seen[] | undefined {
    const state = this.#known.get(keys.jobId);
    const granted = this.#granted.get(token);
    if (state === undefined || granted === undefined) return undefined;
    if (end === "complete" && granted.record === undefined) return undefined;
    return [
      { key: keys.state, ...state } as Seen,
      granted.lease,
      granted.record ?? absent(keys.record),
    ];
  }

  /** Reads an end's entries in one `getMany`. */
  readForEnd(keys: LeasedKeys, end: LeaseEnd): Promise<Seen[]> {
    return this.#read(
      keys,
      end === "complete"
        ? [keys.state, keys.lease, keys.record]
        : [keys.state, keys.lease],
    );
  }

  /** Takes note of an end's commit (or of its giving up). */
  ended(keys: LeasedKeys, token: string, committed?: Committed): void {
    this.#granted.delete(token);
    if (committed === undefined) return;
    this.#state(keys, committed);
    if (committed.recordGone) {
      this.#fences.get(keys.jobId)?.records?.delete(keys.scheduledAtMs);
    }
  }

  async #read(keys: LeasedKeys, read: Deno.KvKey[]): Promise<Seen[]> {
    const entries = await this.#kv.getMany<unknown[]>(read);
    this.#known.set(keys.jobId, entries[0]);
    return entries;
  }

  #state(keys: LeasedKeys, committed: Committed): void {
    this.#known.set(keys.jobId, {
      value: committed.text,
      versionstamp: committed.versionstamp,
    });
  }
}
