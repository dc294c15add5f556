/**
 * Reconciliation of a stored state with the job's definition, as a pure
 * function: when the state's fingerprint differs from the job's, its next
 * run is recomputed from the job's definition.
 *
 * @module
 */

import type { DefinitionParts } from "../job/_fingerprint.ts";
import {
  firstOccurrence,
  occurrenceAfter,
} from "../../schedule/_occurrences.ts";
import { copyJobState, type JobState } from "../../store/job_state.ts";
import type { StateReconciledEvent } from "../events/state_events.ts";

/** A state taken over from another definition. */
export interface Reconciled {
  /** The stored state with its recomputed `nextRunAt` (count kept). */
  readonly state: JobState;
  /** The stored fingerprint and next run. */
  readonly previous: { fingerprint: string; nextRunAt: Date | null };
  /** The job's fingerprint and the recomputed next run. */
  readonly next: { fingerprint: string; nextRunAt: Date | null };
}

/** Options of {@linkcode reconcileState}. */
export interface ReconcileOptions extends DefinitionParts {
  /** The job's fingerprint. */
  readonly fingerprint: string;
  /** The instant the definition takes over at. */
  readonly now: number;
}

/**
 * `undefined` when the stored state has no fingerprint (adopted as it is)
 * or the job's; otherwise the state with `nextRunAt` recomputed at `now`:
 *
 * - `maxRuns` already reached by `triggerCount` → `null` (the job ends);
 * - at-times → the first instant of the new list at or after the earlier of
 *   the stored `nextRunAt` and `now` (re-indexed by instant: instants before
 *   the stored next run were consumed; later past ones stay due for the
 *   missed-run policy; a future instant always runs);
 * - interval → the first instant after `now` on the grid of the stored
 *   `nextRunAt` (stored next run + k × the new `everyMs`), or `now + everyMs`
 *   when there is no stored next run. Anchoring on stored data, not on each
 *   instance's clock, makes every instance that reconciles the same stored
 *   state pick instants of one grid, so their occurrences share guard slots;
 * - cron → its first match after `now` in the time zone (absolute instants,
 *   the same for every instance).
 *
 * @throws {InvalidJobError} kind `interval-out-of-range` when `now + everyMs`
 * is beyond the `Date` range.
 */
export function reconcileState(
  stored: JobState,
  options: ReconcileOptions,
): Reconciled | undefined {
  const previous = stored.definition;
  if (previous === undefined || previous === options.fingerprint) {
    return undefined;
  }
  const { schedule, maxRuns, now } = options;
  let next: number | null;
  if (maxRuns !== undefined && stored.triggerCount >= maxRuns) {
    next = null;
  } else if (schedule.kind === "at-times") {
    const anchor = Math.min(stored.nextRunAt?.getTime() ?? now, now);
    next = occurrenceAfter(schedule, anchor - 1, options);
  } else if (schedule.kind === "interval" && stored.nextRunAt !== null) {
    const anchor = stored.nextRunAt.getTime();
    const every = schedule.everyMs;
    // The grid point at or before now; the occurrence after it is > now.
    const atOrBefore = anchor + Math.floor((now - anchor) / every) * every;
    next = occurrenceAfter(schedule, atOrBefore, options);
  } else {
    next = firstOccurrence(schedule, options);
  }
  const nextRunAt = next === null ? null : new Date(next);
  return {
    state: { ...copyJobState(stored), nextRunAt },
    previous: { fingerprint: previous, nextRunAt: stored.nextRunAt },
    next: { fingerprint: options.fingerprint, nextRunAt },
  };
}

/** The `state-reconciled` event of a reconciliation. */
export function reconciledEvent(
  jobId: string,
  reconciled: Reconciled,
): StateReconciledEvent {
  return {
    type: "state-reconciled",
    jobId,
    triggerCount: reconciled.state.triggerCount,
    previous: reconciled.previous,
    next: reconciled.next,
  };
}
