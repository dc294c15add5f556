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
 * until a check says otherwise, so that a steady run reads nothing
 * (`_leased_memory.ts`, which also counts the job's in-flight records for
 * a grant's answer).
 * Everything else is the guard's own rule: tokens over the counter
 * (`_fencing_counter.ts`), damaged entries set aside (`_quarantine.ts`),
 * the records its ledger lists and reclaims, the done marker.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import type { InFlightSlot } from "../guard/in_flight.ts";
import {
  requireInFlightSlot,
  requireLeaseOf,
  requireSlot,
} from "../guard/lease_config.ts";
import type { JobState } from "../store/job_state.ts";
import type {
  LeasedAcquire,
  SaveAndAcquire,
  SaveAndEnd,
} from "../store/leased_writes.ts";
import { requireSavableState } from "../store/_store_input.ts";
import { encodeJobState } from "../store/_json_codec.ts";
import { MAX_MERGE_ROUNDS, writeStormError } from "../store/_merge_state.ts";
import type { KnownEntry } from "./_state_writes.ts";
import { type KvGuardLink, sharedSeed } from "./_guard_link.ts";
import { guardParts } from "./_guard_parts.ts";
import { leaseKeyText } from "./_lease_record.ts";
import { type LeasedCall, leasedCall } from "./_leased_call.ts";
import { commitEnd, commitGrant, type LeasedKeys } from "./_leased_commits.ts";
import { LeasedMemory } from "./_leased_memory.ts";

/** What the writes need from their store. */
export interface LeasedWritesOptions {
  readonly kv: Deno.Kv;
  /** The store's key prefix of job states. */
  readonly prefix: Deno.KvKey;
  /** The store's entries last seen per job id, shared with its saves. */
  readonly known: Map<string, KnownEntry>;
  /** The store's budget for passing connection errors at an end. */
  readonly retryBudgetMs: number;
}

/** One store's leased writes, for the guards it shares a database with. */
export class KvLeasedWrites {
  readonly #o: LeasedWritesOptions;
  /** What the writes remember, per guard (each has its own keys). */
  readonly #memories = new WeakMap<KvGuardLink, LeasedMemory>();

  constructor(options: LeasedWritesOptions) {
    this.#o = options;
  }

  /** The guard's parts and this store's memory of its leases. */
  #linkOf(
    guard: unknown,
    method: string,
  ): { link: KvGuardLink; memory: LeasedMemory; guardBudgetMs: number } {
    const seed = sharedSeed(this.#o, guard);
    if (seed === undefined) {
      throw new InvalidJobError(
        `DenoKvStateStore.${method}() takes leases of a DenoKvExecutionGuard it shares its Deno.Kv with (sharesWith), got ${
          describeValue(guard)
        }`,
        { kind: InvalidJobKind.Other },
      );
    }
    const link = guardParts(seed);
    let memory = this.#memories.get(link);
    if (memory === undefined) {
      memory = new LeasedMemory(this.#o.kv, this.#o.known);
      this.#memories.set(link, memory);
    }
    return { link, memory, guardBudgetMs: seed.retryBudgetMs };
  }

  /** Saves the state and tries to take the slot, in one commit. */
  async saveAndAcquire(
    request: SaveAndAcquire,
  ): Promise<LeasedAcquire> {
    const { link, memory, guardBudgetMs } = this.#linkOf(
      request.guard,
      "saveAndAcquire",
    );
    const { state, slot, record } = request;
    const scheduledAt = record
      ? requireInFlightSlot(slot as InFlightSlot)
      : requireSlot(slot);
    const { jobId } = slot;
    requireWritable(state, jobId);
    const keys = this.#keys(link, jobId, scheduledAt.getTime());
    const occurrence = { ...slot, scheduledAt } as InFlightSlot;
    // A grant fails as the guard's acquire does, on the guard's budget: a
    // store that gives up at once (a resilient store's primary) still
    // rides out a blip at the grant as the guard would.
    const call: LeasedCall = {
      operation: "acquire",
      jobId,
      connectionMs: guardBudgetMs,
    };
    return await leasedCall(call, async () => {
      let seen = memory.forGrant(keys, record);
      for (let round = 0; round < MAX_MERGE_ROUNDS; round++) {
        seen ??= await memory.readForGrant(keys, record);
        const grant = { link, keys, seen, state, occurrence, record };
        const committed = await commitGrant(grant).catch((error) => {
          memory.forget(jobId); // damaged data set aside: read it again
          throw error;
        });
        if (committed !== undefined) {
          const inFlight = memory.granted(keys, committed);
          return inFlight === undefined
            ? committed.answer
            : { ...committed.answer, inFlight };
        }
        seen = undefined;
      }
      throw writeStormError(jobId);
    });
  }

  /**
   * Saves the state and ends the lease as `end` says, in one commit; a
   * damaged lease or record is set aside in it, and then reported as an
   * `ExecutionGuardError` kind `data` (saved; the end not confirmed). Any
   * other failure saved nothing.
   */
  async saveAndEnd(request: SaveAndEnd): Promise<void> {
    const { link, memory } = this.#linkOf(request.guard, "saveAndEnd");
    const { state, lease, end } = request;
    const scheduledAt = requireLeaseOf(lease);
    const { jobId } = lease;
    const leaseKey = leaseKeyText(link.prefix, jobId, scheduledAt);
    if (typeof lease.token !== "string" || lease.leaseKey !== leaseKey) {
      throw new InvalidJobError(
        `saveAndEnd needs a lease of its guard (leaseKey ${
          JSON.stringify(leaseKey)
        }), got leaseKey ${describeValue(lease.leaseKey)} and token ${
          describeValue(lease.token)
        }`,
        { kind: InvalidJobKind.Other },
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
      let seen = memory.forEnd(keys, token, end);
      for (let round = 0; round < MAX_MERGE_ROUNDS; round++) {
        seen ??= await memory.readForEnd(keys, end);
        const committed = await commitEnd({
          link,
          keys,
          seen,
          state,
          token,
          end,
        });
        if (committed !== undefined) {
          memory.ended(keys, token, committed);
          // Saved and ended; what was set aside on the way is reported
          // as a failed release is.
          if (committed.damage !== undefined) throw committed.damage;
          return;
        }
        seen = undefined;
      }
      memory.ended(keys, token);
      throw writeStormError(jobId);
    });
  }

  #keys(link: KvGuardLink, jobId: string, scheduledAtMs: number): LeasedKeys {
    const records = [...link.prefix, "in-flight", jobId];
    return {
      jobId,
      scheduledAtMs,
      state: [...this.#o.prefix, jobId],
      lease: [...link.prefix, "lease", jobId, scheduledAtMs],
      fence: [...link.prefix, "fence", jobId],
      record: [...records, scheduledAtMs],
      records,
    };
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
