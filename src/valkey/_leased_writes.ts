/**
 * The Valkey side of `LeasedStateWrites` (`store/leased_writes.ts`): a
 * state store and a guard on one deployment save the state with the grant
 * of a lease (and its in-flight record) in one script, and with the
 * lease's end in another (`_lua_leased.ts`), run on the guard's client with
 * the guard's retry budget, fencing, quarantine and `WAIT` (see
 * docs/valkey.md, "Two round trips per run").
 *
 * The guard registers what it lends here ({@linkcode registerLeasedGuard});
 * the store finds it by the guard object, so nothing of it is public.
 *
 * @module
 */

import {
  ExecutionGuardErrorKind,
  InvalidJobKind,
  StoreOperation,
} from "../constants.ts";
import {
  describeValue,
  ExecutionGuardError,
  InvalidJobError,
  isInstance,
  StoreError,
} from "../errors.ts";
import type { ExecutionGuardAcquire, ExecutionLease } from "../guard/lease.ts";
import type { InFlightSlot } from "../guard/in_flight.ts";
import type { ResolvedLeaseConfig } from "../guard/lease_config.ts";
import type {
  LeasedAcquire,
  SaveAndAcquire,
  SaveAndEnd,
} from "../store/leased_writes.ts";
import { requireSavableState } from "../store/_store_input.ts";
import { encodeJobState } from "../store/_json_codec.ts";
import { formatRfc3339 } from "../schedule/_rfc3339.ts";
import { requireEndLease, requireGrantSlot } from "./_leased_input.ts";
import type { JobState } from "../store/job_state.ts";
import type { SchedulerCommands } from "./_commands.ts";
import type { GuardCall } from "./_guard_errors.ts";
import type { ValkeyLink } from "./_link.ts";
import type { ValkeyClient } from "./_open_client.ts";
import {
  endDamage,
  IN_FLIGHT_HASH_ASIDE,
  setAsideGrantKeys,
} from "./_quarantine.ts";
import { type KnownTexts, writeMerged } from "./_state_writes.ts";
import type { ValkeyDurability } from "./execution_guard_options.ts";
import { awaitReplicas } from "./_durability.ts";
import { recordHead } from "./_in_flight_ledger.ts";
import { newAcquireId, recordlessGrant } from "./_grant_holder.ts";
import {
  type KnownRecords,
  type LeasedCounts,
  recordsAnswer,
} from "./_leased_counts.ts";

/** What a guard lends to a store on its deployment. */
export interface LeasedGuard {
  readonly link: ValkeyLink;
  readonly lease: ResolvedLeaseConfig;
  /** Runs `body` on the guard's client, retried, failures typed. */
  call<T>(
    call: Omit<GuardCall, "client">,
    body: (client: ValkeyClient) => Promise<T>,
  ): Promise<T>;
  /**
   * Runs a script writing `key` where its `WAIT` can follow (see
   * `runGrant`); answers the reply and that connection.
   */
  runGrant(
    client: ValkeyClient,
    key: string,
    script: (c: SchedulerCommands) => Promise<unknown>,
  ): Promise<{ reply: unknown; connection: ValkeyClient }>;
  /** A granting script's reply read as the guard reads it (resets noted). */
  read(
    reply: unknown,
    lease: Omit<ExecutionLease, "fencingToken">,
  ): ExecutionGuardAcquire;
  /** The highest fencing token the guard has seen for `jobId`. */
  floor(jobId: string): bigint;
  durability(): ValkeyDurability | undefined;
}

const guards = new WeakMap<object, LeasedGuard>();

/** Lends `lent` of `guard` to stores on its deployment. */
export function registerLeasedGuard(guard: object, lent: LeasedGuard): void {
  guards.set(guard, lent);
}

/** What `guard` lends, if it is a Valkey guard on `link`'s deployment. */
export function leasedGuardOn(
  link: ValkeyLink,
  guard: unknown,
): LeasedGuard | undefined {
  if (typeof guard !== "object" || guard === null) return undefined;
  const lent = guards.get(guard);
  return lent !== undefined && lent.link.sharesDeploymentWith(link)
    ? lent
    : undefined;
}

/** What the leased writes need of a Valkey state store. */
export interface LeasingStore {
  readonly link: ValkeyLink;
  /** The store's last texts (see `_state_writes.ts`). */
  readonly known: KnownTexts;
  /** The store's count of each job's in-flight records (`_leased_counts.ts`). */
  readonly counts: LeasedCounts;
  /** The state key of `jobId` (checked). */
  stateKey(jobId: string): string;
  /** Reads `key` on the store's client, retried. */
  read(key: string): Promise<string | null>;
}

/** The store's part of one leased write of `state`. */
interface StoreSide {
  readonly key: string;
  readonly state: JobState;
  readonly known: KnownTexts;
  read(): Promise<string | null>;
}

/**
 * `state` checked as `save` checks it, with what the merge loop needs, and
 * `guard`'s part: both ready for one script.
 *
 * @throws {InvalidJobError} kind `other` when `guard` is not a Valkey
 * guard on the store's deployment (see `sharesWith`).
 */
function prepare(store: LeasingStore, state: JobState, guard: unknown) {
  const lent = leasedGuardOn(store.link, guard);
  if (lent === undefined) {
    throw new InvalidJobError(
      `ValkeyStateStore leased writes need a ValkeyExecutionGuard on the store's deployment with its key layout (see sharesWith), got ${
        describeValue(guard)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  requireSavableState(state);
  encodeJobState(state); // an unstorable state fails before any command
  const key = store.stateKey(state.jobId);
  const side: StoreSide = {
    key,
    state,
    known: store.known,
    read: () => store.read(key),
  };
  return { lent, side };
}

/**
 * What a script's run means to the merge loop: written, or, for a
 * `{"conflict", text}` reply, the state changed and nothing was written.
 */
function mergeAnswer<T extends { reply: unknown }>(
  ran: T,
): { written: true; value: T } | { written: false; current: string | null } {
  const { reply } = ran;
  if (!Array.isArray(reply) || reply[0] !== "conflict") {
    return { written: true, value: ran };
  }
  return {
    written: false,
    current: typeof reply[1] === "string" ? reply[1] : null,
  };
}

function unexpected(jobId: string, reply: unknown): ExecutionGuardError {
  return new ExecutionGuardError(
    `Valkey leased write for job ${JSON.stringify(jobId)} answered ${
      describeValue(reply)
    } instead of "conflict" or "saved"`,
    { kind: ExecutionGuardErrorKind.Data },
  );
}

/**
 * The leases granted here with their in-flight record: only their end may
 * clear the record without reading its holder (a lease granted without
 * one, say a manual run's, may share its timestamp with another holder's
 * record). Kept by the lease object, so nothing outlives it.
 */
const withRecord = new WeakSet<object>();

/**
 * Saves the state and takes the slot's lease (writing its in-flight record
 * when `record`) in one script; a state changed meanwhile is merged and
 * written again. Damaged guard data is set aside, as the guard's acquire
 * does, and nothing is saved then. With `durability`, fewer replicas than
 * asked acknowledging the grant answer `contended` with a note: the
 * lease and record stay until the lease runs out (then an at-least-once
 * occurrence is replayed, an at-most-once one reported lost).
 */
export async function saveAndAcquire(
  leasing: LeasingStore,
  request: SaveAndAcquire,
): Promise<LeasedAcquire> {
  const { lent: guard, side: store } = prepare(
    leasing,
    request.state,
    request.guard,
  );
  const slot = request.slot as InFlightSlot;
  const scheduledAt = requireGrantSlot(slot, request);
  const { jobId } = slot;
  const at = formatRfc3339(scheduledAt.getTime(), 9);
  const { keys } = guard.link;
  // Minted once, sent by every retry: a retry after a lost reply finds
  // its own grant and gets it back (OWN_GRANT in _lua_lib.ts).
  const token = request.record ? crypto.randomUUID() : newAcquireId();
  const leaseKey = keys.lease(jobId, at);
  const lease = { jobId, scheduledAt, token, leaseKey };
  const call = { operation: "acquire", jobId };
  let granted: { reply: unknown; connection: ValkeyClient };
  // Sent with the first attempt only: a state that changed behind this
  // store's back may have lost records' changes too (_leased_counts.ts).
  let attempts = 0;
  let sent: KnownRecords | undefined;
  try {
    granted = await writeMerged(store, {
      write: async (cas) => {
        sent = attempts++ === 0 ? leasing.counts.known(jobId) : undefined;
        const ran = await guard.call(
          call,
          (client) =>
            guard.runGrant(client, leaseKey, (c) =>
              c.leasedAcquire({
                state: store.key,
                lease: leaseKey,
                fence: keys.fence(jobId),
                inFlight: keys.inFlight(jobId),
              }, {
                ...cas,
                holder: token,
                ttlMs: guard.lease.ttlMs,
                floor: String(guard.floor(jobId)),
                record: request.record,
                field: at,
                head: request.record ? recordHead(slot, at) : "",
                lastToken: sent?.token ?? "",
              })),
        );
        return mergeAnswer(ran);
      },
    });
  } catch (error) {
    if (!isInstance(error, ExecutionGuardError)) throw error;
    throw await guard.call(
      call,
      (client) =>
        setAsideGrantKeys(client, {
          error,
          keys,
          jobId,
          at,
          token,
          record: request.record,
        }),
    );
  }
  const { reply, connection } = granted;
  if (!Array.isArray(reply) || reply[0] !== "saved") {
    throw unexpected(jobId, reply);
  }
  const read = guard.read(reply.length > 1 ? reply.slice(1, 3) : null, lease);
  let answer: LeasedAcquire = request.record
    ? read
    : recordlessGrant(read, token);
  if (read.kind === "acquired") {
    const answered = recordsAnswer(reply, request.record);
    if (answered === undefined) throw unexpected(jobId, reply);
    const { counted, added } = answered;
    const inFlight = leasing.counts.granted(jobId, {
      sent,
      token: String(reply[1]),
      counted,
      record: request.record ? { field: at, holder: token, added } : undefined,
    });
    // With a record, the job's record count after the grant: the
    // reclaimer's cue to look at the ledger (store/leased_writes.ts).
    if (request.record) {
      if (inFlight === undefined) throw unexpected(jobId, reply);
      answer = { ...read, inFlight };
      withRecord.add(read.lease);
    }
  }
  const durability = guard.durability();
  if (answer.kind !== "acquired" || durability === undefined) return answer;
  try {
    await awaitReplicas(connection, { ...lease, durability });
  } catch (error) {
    if (!isInstance(error, ExecutionGuardError)) throw error;
    return { kind: "contended", note: error.message };
  }
  return answer;
}

/**
 * Saves the state and ends `lease` as `end` says, in one script; a state
 * changed meanwhile is merged and written again; a failure is a
 * `StoreError` (nothing was saved). With `durability`, the end is waited
 * for too: fewer replicas than asked acknowledging it is an
 * `ExecutionGuardError` kind `connection` (the state is saved on the
 * primary; the scheduler reports a failed release). Damaged ledger data
 * met by the script (a record that does not decode, an in-flight hash of
 * another type) is set aside by it and reported after the save as an
 * `ExecutionGuardError` kind `data`, as Deno KV's leased end reports it.
 */
export async function saveAndEnd(
  leasing: LeasingStore,
  request: SaveAndEnd,
): Promise<void> {
  const { lent: guard, side: store } = prepare(
    leasing,
    request.state,
    request.guard,
  );
  const { lease, end } = request;
  const { jobId } = lease;
  const { keys } = guard.link;
  const at = requireEndLease(lease, { state: request.state, keys });
  const call = { operation: end, jobId };
  const now = Date.now();
  let ran: { reply: unknown; connection: ValkeyClient };
  try {
    ran = await writeMerged(
      store,
      {
        write: async (cas) => {
          const ran = await guard.call(
            call,
            (client) =>
              guard.runGrant(client, lease.leaseKey, (c) =>
                c.leasedEnd({
                  state: store.key,
                  lease: lease.leaseKey,
                  inFlight: keys.inFlight(jobId),
                  asideHash: keys.quarantineInFlight(jobId),
                  asideKey: keys.quarantine(jobId, IN_FLIGHT_HASH_ASIDE, now),
                }, {
                  ...cas,
                  holder: lease.token,
                  end,
                  retentionMs: guard.lease.completedRetentionMs,
                  ttlMs: guard.lease.ttlMs,
                  field: at,
                  recorded: withRecord.has(lease),
                  asideField: `${at} ${now}`,
                })),
          );
          return mergeAnswer(ran);
        },
      },
    );
  } catch (error) {
    // Nothing was saved: a store failure, as a failed save is.
    if (!isInstance(error, ExecutionGuardError)) throw error;
    throw new StoreError(error.message, {
      kind: error.kind,
      operation: StoreOperation.Save,
      cause: error,
    });
  }
  const { reply, connection } = ran;
  if (!Array.isArray(reply) || reply[0] !== "saved") {
    throw unexpected(jobId, reply);
  }
  const durability = guard.durability();
  if (durability !== undefined) {
    await awaitReplicas(connection, { ...lease, durability });
  }
  if (end === "complete" && reply.length === 2 && reply[1] === 1) {
    leasing.counts.cleared(jobId, at, lease.token);
  }
  // Saved, the lease ended: the damage found on the way is reported now.
  if (reply.length > 2) {
    throw endDamage({ keys, jobId, field: at, now, damage: reply.slice(2) });
  }
}
