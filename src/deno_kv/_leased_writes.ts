/**
 * The Deno KV state store's writes around a run when its guard is a
 * `DenoKvExecutionGuard` on the same database (`LeasedStateWrites`, see
 * docs/stores.md): before a run, the state saved, the lease granted with
 * its fencing token and the in-flight record written in one commit; after
 * it, the state saved and the lease ended in one commit.
 *
 * Each commit is checked on the versionstamps of every key it reads over
 * (state, lease, fencing counter, record), and a failed check re-reads them
 * all in one `getMany`, merges the state again (as `_state_writes.ts`
 * does) and retries. The versionstamps of this store's own commits are
 * remembered, and an occurrence's lease and record keys are taken as absent
 * until a check says otherwise, so that a steady run reads nothing.
 * Everything else is the guard's own rule: tokens over the counter
 * (`_fencing_counter.ts`), damaged entries set aside (`_quarantine.ts`),
 * the records its ledger lists and reclaims, the done marker.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import { ExecutionGuardErrorKind, InvalidJobKind } from "../constants.ts";
import {
  describeValue,
  ExecutionGuardError,
  InvalidJobError,
} from "../errors.ts";
import type { ExecutionGuardAcquire } from "../guard/lease.ts";
import type { InFlightSlot } from "../guard/in_flight.ts";
import { requireSlot } from "../guard/lease_config.ts";
import type { JobState } from "../store/job_state.ts";
import type {
  LeaseEnd,
  SaveAndAcquire,
  SaveAndEnd,
} from "../store/leased_writes.ts";
import { requireSavableState } from "../store/_store_input.ts";
import { encodeJobState } from "../store/_json_codec.ts";
import { MAX_MERGE_ROUNDS, writeStormError } from "../store/_merge_state.ts";
import type { KnownEntry } from "./_state_writes.ts";
import { guardLink, type KvGuardLink } from "./_guard_link.ts";
import { leaseKeyText } from "./_lease_record.ts";
import { requireInFlightSlot } from "./_in_flight_record.ts";
import { type LeasedCall, leasedCall } from "./_leased_call.ts";
import {
  commitEnd,
  commitGrant,
  type LeasedKeys,
  type Seen,
} from "./_leased_commits.ts";

function absent(key: Deno.KvKey): Seen {
  return { key, value: null, versionstamp: null };
}

function written(key: Deno.KvKey, value: unknown, versionstamp: string): Seen {
  return { key, value, versionstamp } as Seen;
}

/** What a grant of this store wrote, so that its end needs no read. */
interface Granted {
  readonly lease: Seen;
  /** Absent when the grant wrote no record (then read before a complete). */
  readonly record?: Seen;
}

/** Leases remembered at most (a lease never ended is forgotten, not kept). */
const MAX_REMEMBERED = 1024;

/** The guard's key areas; state keys inside one would meet its keys. */
const GUARD_AREAS = new Set(["lease", "fence", "in-flight", "quarantine"]);

function samePart(a: Deno.KvKeyPart, b: Deno.KvKeyPart): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }
  return typeof a === typeof b && a === b;
}

/** Whether state keys under `statePrefix` fall in a guard key area. */
function insideGuardKeys(statePrefix: Deno.KvKey, guardPrefix: Deno.KvKey) {
  if (statePrefix.length <= guardPrefix.length) return false;
  return guardPrefix.every((part, i) => samePart(part, statePrefix[i])) &&
    GUARD_AREAS.has(statePrefix[guardPrefix.length] as string);
}

/** What the writes need from their store. */
export interface LeasedWritesOptions {
  readonly kv: Deno.Kv;
  /** The store's key prefix of job states. */
  readonly prefix: Deno.KvKey;
  /** The store's entries last seen per job id, shared with its saves. */
  readonly known: Map<string, KnownEntry>;
  /** The store's budget for passing connection errors. */
  readonly retryBudgetMs: number;
}

/** One store's leased writes, for the first guard it shares a database with. */
export class KvLeasedWrites {
  readonly #o: LeasedWritesOptions;
  #link: KvGuardLink | undefined;
  /** Fencing counters as this store last wrote them, per job id. */
  readonly #fences = new Map<string, Seen>();
  /** Leases this store granted and has not ended yet, by token. */
  readonly #granted = new Map<string, Granted>();

  constructor(options: LeasedWritesOptions) {
    this.#o = options;
  }

  /**
   * Whether `guard` is a Deno KV guard on this database whose keys cannot
   * meet the state keys; the first such guard asked about is the one these
   * writes take leases of (another one is answered `false`).
   */
  sharesWith(guard: unknown): boolean {
    const link = guardLink(guard);
    if (
      link === undefined || link.kv !== this.#o.kv ||
      insideGuardKeys(this.#o.prefix, link.prefix)
    ) {
      return false;
    }
    this.#link ??= link;
    return this.#link === link;
  }

  /** Saves the state and tries to take the slot, in one commit. */
  async saveAndAcquire(
    request: SaveAndAcquire,
  ): Promise<ExecutionGuardAcquire> {
    const link = this.#bound("saveAndAcquire");
    const { state, slot, record } = request;
    const scheduledAt = record
      ? requireInFlightSlot(slot as InFlightSlot)
      : requireSlot(slot);
    const { jobId } = slot;
    requireWritable(state, jobId);
    const keys = this.#keys(link, jobId, scheduledAt.getTime());
    const occurrence = { ...slot, scheduledAt } as InFlightSlot;
    const call: LeasedCall = {
      operation: "acquire",
      jobId,
      connectionMs: this.#o.retryBudgetMs,
    };
    return await leasedCall(call, async () => {
      let seen = this.#rememberedForGrant(keys, jobId);
      for (let round = 0; round < MAX_MERGE_ROUNDS; round++) {
        seen ??= await this.#read(jobId, [
          keys.state,
          keys.lease,
          keys.fence,
          keys.record,
        ]);
        const grant = { link, keys, seen, state, occurrence, record };
        const committed = await commitGrant(grant);
        if (committed !== undefined) {
          this.#known(jobId, committed);
          const { lease, versionstamp } = committed;
          if (lease !== undefined) {
            const { fencingToken } = lease;
            this.#fences.set(
              jobId,
              written(keys.fence, fencingToken, versionstamp),
            );
            this.#remember(lease.token, {
              lease: written(keys.lease, lease, versionstamp),
              record: committed.record &&
                written(keys.record, committed.record, versionstamp),
            });
          }
          return committed.answer;
        }
        seen = undefined;
      }
      throw writeStormError(jobId);
    });
  }

  /**
   * Saves the state and ends the lease as `end` says, in one commit; a
   * damaged lease or record is set aside in it.
   */
  async saveAndEnd(request: SaveAndEnd): Promise<void> {
    const link = this.#bound("saveAndEnd");
    const { state, lease, end } = request;
    const scheduledAt = requireSlot(lease);
    const { jobId } = lease;
    const leaseKey = leaseKeyText(link.prefix, jobId, scheduledAt);
    if (typeof lease.token !== "string" || lease.leaseKey !== leaseKey) {
      throw new ExecutionGuardError(
        `saveAndEnd needs a lease of this store's guard (leaseKey ${
          JSON.stringify(leaseKey)
        }), got leaseKey ${describeValue(lease.leaseKey)} and token ${
          describeValue(lease.token)
        }`,
        { kind: ExecutionGuardErrorKind.Data },
      );
    }
    if (!LEASE_ENDS.includes(end)) {
      throw new InvalidJobError(
        `saveAndEnd needs end "release", "complete" or "abandon", got ${
          describeValue(end)
        }`,
        { kind: InvalidJobKind.Other },
      );
    }
    requireWritable(state, jobId);
    const keys = this.#keys(link, jobId, scheduledAt.getTime());
    const { token } = lease;
    const call: LeasedCall = {
      operation: "end",
      jobId,
      connectionMs: this.#o.retryBudgetMs,
    };
    return await leasedCall(call, async () => {
      let seen = this.#rememberedForEnd(keys, jobId, token, end);
      for (let round = 0; round < MAX_MERGE_ROUNDS; round++) {
        seen ??= await this.#read(
          jobId,
          end === "complete"
            ? [keys.state, keys.lease, keys.record]
            : [keys.state, keys.lease],
        );
        const committed = await commitEnd({
          link,
          keys,
          seen,
          state,
          token,
          end,
        });
        if (committed !== undefined) {
          this.#known(jobId, committed);
          this.#granted.delete(token);
          return;
        }
        seen = undefined;
      }
      this.#granted.delete(token);
      throw writeStormError(jobId);
    });
  }

  #bound(method: string): KvGuardLink {
    if (this.#link === undefined) {
      throw new InvalidJobError(
        `DenoKvStateStore.${method}() takes leases of a DenoKvExecutionGuard on the same database: ask sharesWith(guard) first`,
        { kind: InvalidJobKind.Other },
      );
    }
    return this.#link;
  }

  #keys(link: KvGuardLink, jobId: string, scheduledAtMs: number): LeasedKeys {
    return {
      state: [...this.#o.prefix, jobId],
      lease: [...link.prefix, "lease", jobId, scheduledAtMs],
      fence: [...link.prefix, "fence", jobId],
      record: [...link.prefix, "in-flight", jobId, scheduledAtMs],
    };
  }

  /** Reads `keys` in one `getMany`; the first is the state's. */
  async #read(jobId: string, keys: Deno.KvKey[]): Promise<Seen[]> {
    const entries = await this.#o.kv.getMany<unknown[]>(keys);
    this.#o.known.set(jobId, entries[0]);
    return entries;
  }

  #known(jobId: string, committed: { text: string; versionstamp: string }) {
    this.#o.known.set(jobId, {
      value: committed.text,
      versionstamp: committed.versionstamp,
    });
  }

  /**
   * The entries of a grant without a read: the state and counter as last
   * seen, the occurrence's lease and record keys taken as absent (a new
   * occurrence's); a failed check reads them.
   */
  #rememberedForGrant(keys: LeasedKeys, jobId: string): Seen[] | undefined {
    const state = this.#o.known.get(jobId);
    const fence = this.#fences.get(jobId);
    if (state === undefined || fence === undefined) return undefined;
    return [
      { key: keys.state, ...state } as Seen,
      absent(keys.lease),
      fence,
      absent(keys.record),
    ];
  }

  /** The entries of an end without a read: what the grant wrote. */
  #rememberedForEnd(
    keys: LeasedKeys,
    jobId: string,
    token: string,
    end: LeaseEnd,
  ): Seen[] | undefined {
    const state = this.#o.known.get(jobId);
    const granted = this.#granted.get(token);
    if (state === undefined || granted === undefined) return undefined;
    if (end === "complete" && granted.record === undefined) return undefined;
    return [
      { key: keys.state, ...state } as Seen,
      granted.lease,
      granted.record ?? absent(keys.record),
    ];
  }

  #remember(token: string, granted: Granted): void {
    this.#granted.set(token, granted);
    if (this.#granted.size > MAX_REMEMBERED) {
      this.#granted.delete(this.#granted.keys().next().value!);
    }
  }
}

const LEASE_ENDS: readonly unknown[] = ["release", "complete", "abandon"];

/** Checks a state to write with a lease of job `jobId`. */
function requireWritable(state: JobState, jobId: string): void {
  requireSavableState(state);
  if (state.jobId !== jobId) {
    throw new InvalidJobError(
      `a leased write needs the state and the lease of one job, got state of ${
        JSON.stringify(state.jobId)
      } and lease of ${describeValue(jobId)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  encodeJobState(state); // an unstorable state fails before any commit
}
