/**
 * Which in-flight records to reclaim now, as a pure function of the listed
 * records, this instance's own leases and what is active or queued.
 *
 * @module
 */

import { OverlapPolicy } from "../../constants.ts";
import type { InFlightRecord } from "../../guard/in_flight.ts";

/** Everything a reclaim decision depends on. */
export interface ReclaimInput {
  /** The job's in-flight records, as the ledger listed them. */
  readonly records: readonly InFlightRecord[];
  /** Lease tokens of this instance's own active runs. */
  readonly ownHolders: ReadonlySet<string>;
  readonly overlapPolicy: OverlapPolicy;
  /** Runs currently active here. */
  readonly activeRuns: number;
  /** Whether a queue-one trigger is waiting here. */
  readonly queued: boolean;
}

/** What to do about the in-flight records. */
export interface ReclaimPlan {
  /** Expired records to reclaim now, oldest occurrence first. */
  readonly reclaim: readonly InFlightRecord[];
  /** Expired records left for later because the overlap policy says wait. */
  readonly deferred: number;
  /**
   * When the first lease held by another live instance ends (ms from now),
   * so that the records are looked at again then; `undefined` when none.
   */
  readonly recheckInMs: number | undefined;
}

/**
 * Expired records of other holders are reclaimed oldest first, before any
 * newer occurrence, honouring the overlap policy: with `allow-parallel` all
 * of them at once; otherwise one, and only while nothing runs or waits here
 * (the others are deferred, never dropped: they stay in the ledger).
 */
export function planReclaim(input: ReclaimInput): ReclaimPlan {
  const foreign = input.records
    .filter((record) => !input.ownHolders.has(record.holder))
    .sort((a, b) => a.scheduledAt.getTime() - b.scheduledAt.getTime());
  const expired = foreign.filter((record) => !(record.remainingMs > 0));
  let recheckInMs: number | undefined;
  for (const record of foreign) {
    if (record.remainingMs > 0 && Number.isFinite(record.remainingMs)) {
      recheckInMs = Math.min(recheckInMs ?? Infinity, record.remainingMs);
    }
  }
  let room: number;
  if (input.overlapPolicy === OverlapPolicy.AllowParallel) {
    room = expired.length;
  } else {
    room = input.activeRuns === 0 && !input.queued ? 1 : 0;
  }
  const reclaim = expired.slice(0, room);
  return { reclaim, deferred: expired.length - reclaim.length, recheckInMs };
}

/**
 * The overlap policy a decision applies while runs are active: a replay of a
 * dead holder's occurrence never costs a scheduled occurrence, so under
 * `forbid`, an occurrence that comes due while only replays run is queued
 * behind them (as under `queue-one`) instead of skipped. The other policies
 * already keep it. The rule is documented in docs/recovery.md.
 */
export function overlapBesideReplays(
  policy: OverlapPolicy,
  active: Iterable<{ readonly trigger: { readonly replayed?: boolean } }>,
): OverlapPolicy {
  if (policy !== OverlapPolicy.Forbid) return policy;
  let replays = 0;
  for (const run of active) {
    if (run.trigger.replayed !== true) return policy;
    replays++;
  }
  return replays > 0 ? OverlapPolicy.QueueOne : policy;
}
