/**
 * The two commits of the Deno KV state store's leased writes
 * (`_leased_writes.ts`), each built over the entries it was given (read or
 * remembered) and checked on their versionstamps: `undefined` means a check
 * failed, and the caller reads again and retries. The guard's rules are the
 * ones its acquire, release and ledger follow.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import type { ExecutionGuardAcquire } from "../guard/lease.ts";
import type { InFlightSlot } from "../guard/in_flight.ts";
import type { JobState } from "../store/job_state.ts";
import type { LeaseEnd } from "../store/leased_writes.ts";
import { mergedText } from "../store/_merge_state.ts";
import type { KvGuardLink } from "./_guard_link.ts";
import {
  grantedLease,
  heldLease,
  type LeaseRecord,
  markDone,
  readLeaseRecord,
} from "./_lease_record.ts";
import {
  newStoredRecord,
  readStoredRecord,
  type StoredRecord,
} from "./_in_flight_record.ts";
import type { ExecutionGuardError } from "../errors.ts";
import {
  isDamage,
  moveAside,
  quarantineKey,
  readOrSetAside,
  setAsideError,
} from "./_quarantine.ts";

/** An entry as last read or written. */
export type Seen = Deno.KvEntryMaybe<unknown>;

/** The keys one occurrence's writes touch. */
export interface LeasedKeys {
  readonly jobId: string;
  readonly scheduledAtMs: number;
  readonly state: Deno.KvKey;
  readonly lease: Deno.KvKey;
  readonly fence: Deno.KvKey;
  readonly record: Deno.KvKey;
  /** The prefix of the job's in-flight records. */
  readonly records: Deno.KvKey;
}

/** What a commit over `seen` needs. */
interface CommitInput {
  readonly link: KvGuardLink;
  readonly keys: LeasedKeys;
  readonly state: JobState;
}

/** What a commit wrote: the state text and the commit's versionstamp. */
export interface Committed {
  readonly text: string;
  readonly versionstamp: string;
  /** An end: whether the occurrence's record left its key. */
  readonly recordGone?: boolean;
}

/** A grant's commit: the answer, and what it wrote when granted. */
export interface GrantCommitted extends Committed {
  readonly answer: ExecutionGuardAcquire;
  readonly lease?: LeaseRecord;
  readonly record?: StoredRecord;
}

function check(key: Deno.KvKey, entry: Seen): Deno.AtomicCheck {
  return { key, versionstamp: entry.versionstamp };
}

/**
 * Saves the state and grants the slot over `seen` (state, lease, fencing
 * counter, record), as the guard's acquire (and its ledger's, when
 * `record`) would: contended while the lease is alive or done (the state
 * is saved all the same), else a new lease and the next fencing token.
 *
 * @throws {ExecutionGuardError} kind `data` for a damaged lease or counter,
 * set aside first; nothing else is written.
 */
export async function commitGrant(
  input: CommitInput & {
    seen: Seen[];
    occurrence: InFlightSlot;
    record: boolean;
  },
): Promise<GrantCommitted | undefined> {
  const { link, keys, seen: [stateEntry, lease, fence, record] } = input;
  const { occurrence, state } = input;
  const { jobId } = occurrence;
  const text = mergedText(stateEntry.value, state);
  const now = Date.now();
  const operation = link.kv.atomic()
    .check(check(keys.state, stateEntry))
    .set(keys.state, text);
  if (lease.value !== null) {
    const held = await readOrSetAside(
      link.kv,
      { prefix: link.prefix, entry: lease },
      () => readLeaseRecord(lease.value, jobId, keys.lease),
    );
    if (held.deadline > now) {
      const saved = await operation.commit();
      return saved.ok
        ? {
          text,
          versionstamp: saved.versionstamp,
          answer: { kind: "contended" },
        }
        : undefined;
    }
  }
  const { fencingToken, counter } = await readOrSetAside(
    link.kv,
    { prefix: link.prefix, entry: fence },
    () => link.nextToken(jobId, fence, now),
  );
  const granted = heldLease(fencingToken, now + link.lease.ttlMs);
  operation.check(check(keys.lease, lease), check(keys.fence, fence))
    .set(keys.lease, granted, { expireIn: link.heldExpiry() })
    .set(keys.fence, fencingToken);
  let stored: StoredRecord | undefined;
  if (input.record) {
    stored = newStoredRecord(occurrence, {
      fencingToken,
      holder: granted.token,
      leaseDeadline: granted.deadline,
    });
    operation.check(check(keys.record, record)).set(keys.record, stored);
  }
  const committed = await operation.commit();
  if (!committed.ok) return undefined;
  link.reportReset({ jobId, fencingToken, counter });
  return {
    text,
    versionstamp: committed.versionstamp,
    lease: granted,
    record: stored,
    answer: {
      kind: "acquired",
      lease: grantedLease({
        prefix: link.prefix,
        jobId,
        scheduledAt: occurrence.scheduledAt,
        record: granted,
      }),
    },
  };
}

/**
 * `read()`, or `undefined` when the entry is damaged (a `data` error): then
 * it is set aside by `operation` itself, to the quarantine key the guard
 * would move it to (`_quarantine.ts`), checked on its versionstamp, and the
 * error that will report it is added to `damage`.
 */
function readOrMoveAside<T>(
  operation: Deno.AtomicOperation,
  options: { prefix: Deno.KvKey; entry: Seen; damage: ExecutionGuardError[] },
  read: () => T,
): T | undefined {
  try {
    return read();
  } catch (error) {
    if (!isDamage(error)) throw error;
    const { prefix, entry } = options;
    const movedTo = quarantineKey(prefix, entry.key, Date.now());
    moveAside(operation, { entry, to: movedTo });
    options.damage.push(
      setAsideError({ key: entry.key, reason: error.message, movedTo }),
    );
    return undefined;
  }
}

/** What an end's commit did; `damage`: what it set aside, to report. */
export interface EndCommitted extends Committed {
  readonly damage?: ExecutionGuardError;
}

/**
 * Saves the state and ends the lease of holder `token` over `seen` (state,
 * lease and, for `complete`, record), as the guard's release and its
 * ledger's complete and abandon would: only what this holder still holds
 * is changed. A damaged lease or record is set aside in the same commit
 * (the run is over: nothing waits for it), so the state is saved all the
 * same, and answered as `damage`.
 */
export async function commitEnd(
  input: CommitInput & { seen: Seen[]; token: string; end: LeaseEnd },
): Promise<EndCommitted | undefined> {
  const { link, keys, state, token, end } = input;
  const [stateEntry, lease, record] = input.seen;
  const { jobId } = state;
  const text = mergedText(stateEntry.value, state);
  const operation = link.kv.atomic()
    .check(check(keys.state, stateEntry))
    .set(keys.state, text);
  const damage: ExecutionGuardError[] = [];
  const aside = { prefix: link.prefix, entry: lease, damage };
  const held = lease.value === null ? undefined : readOrMoveAside(
    operation,
    aside,
    () => readLeaseRecord(lease.value, jobId, keys.lease),
  );
  // Past its deadline but not taken over, the lease is still this holder's.
  if (held?.status === "held" && held.token === token) {
    operation.check(check(keys.lease, lease));
    if (end === "abandon") operation.delete(keys.lease);
    else {
      markDone(operation, {
        key: keys.lease,
        held,
        retentionMs: link.lease.completedRetentionMs,
      });
    }
  }
  let recordGone = false;
  if (end === "complete" && record !== undefined && record.value !== null) {
    const stored = readOrMoveAside(
      operation,
      { ...aside, entry: record },
      () =>
        readStoredRecord(record.value, {
          key: keys.record,
          prefix: link.prefix,
          jobId,
        }),
    );
    if (stored?.holder === token) {
      operation.check(check(keys.record, record)).delete(keys.record);
    }
    recordGone = stored === undefined || stored.holder === token;
  }
  const committed = await operation.commit();
  if (!committed.ok) return undefined;
  const { versionstamp } = committed;
  return { text, versionstamp, recordGone, damage: damage[0] };
}
