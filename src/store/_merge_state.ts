/**
 * How a save meets the state already stored, as a pure function: the stored
 * state never goes backwards, whoever writes.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { StoreErrorKind, StoreOperation } from "../constants.ts";
import { StoreError } from "../errors.ts";
import { copyJobState, type JobState, withDefinition } from "./job_state.ts";
import { decodeJobState, encodeJobState } from "./_json_codec.ts";

/** A state's fields with instants as epoch milliseconds. */
export interface StateTimes {
  readonly triggerCount: number;
  readonly nextRunAt: number | null;
  readonly lastRunAt: number | null;
  readonly lastSuccessAt: number | null;
  readonly lastError: string | null;
}

function ms(date: Date | null): number | null {
  return date === null ? null : date.getTime();
}

function dateOf(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

function later(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return b > a ? b : a;
}

/** The fields of a state as {@linkcode StateTimes}. */
export function stateTimes(state: JobState): StateTimes {
  return {
    triggerCount: state.triggerCount,
    nextRunAt: ms(state.nextRunAt),
    lastRunAt: ms(state.lastRunAt),
    lastSuccessAt: ms(state.lastSuccessAt),
    lastError: state.lastError,
  };
}

/**
 * The rule of {@linkcode mergeJobStates} on epoch milliseconds, for a store
 * that keeps numbers (the in-memory one): no `Date` made or read.
 */
export function mergeTimes(
  stored: StateTimes,
  incoming: StateTimes,
): StateTimes {
  const cursor = stored.triggerCount > incoming.triggerCount
    ? stored
    : incoming;
  const storedRanLater = stored.lastRunAt !== null &&
    (incoming.lastRunAt === null || stored.lastRunAt > incoming.lastRunAt);
  return {
    triggerCount: cursor.triggerCount,
    nextRunAt: cursor.nextRunAt,
    lastRunAt: later(stored.lastRunAt, incoming.lastRunAt),
    lastSuccessAt: later(stored.lastSuccessAt, incoming.lastSuccessAt),
    lastError: storedRanLater ? stored.lastError : incoming.lastError,
  };
}

/**
 * The state to store when `incoming` is saved over `stored`: field by
 * field the furthest of the two, so a writer with a stale view (a lagging
 * instance, a late completion) can never move the stored state back.
 *
 * - `triggerCount` and `nextRunAt` are one cursor and move together: from
 *   the state with the higher count. With equal counts `incoming`'s
 *   `nextRunAt` is kept: only a repair (a next run for a null one) or a
 *   lowered `maxRuns` (null for a next run) changes it without consuming.
 * - `lastRunAt` and `lastSuccessAt`: the later instant of the two.
 * - `lastError` belongs to the latest completed run: `incoming`'s unless
 *   `stored` records a later `lastRunAt`.
 * - The definition fingerprint goes with the cursor (see
 *   {@linkcode mergedDefinition}).
 *
 * Nothing stored → `incoming` as is. Returns a fresh object.
 */
export function mergeJobStates(
  stored: JobState | undefined,
  incoming: JobState,
): JobState {
  if (stored === undefined) return copyJobState(incoming);
  return withDefinition(
    mergeStateFields(stored, incoming),
    mergedDefinition(stored, incoming),
  );
}

/**
 * The definition fingerprint of a merge: the one of the side whose cursor
 * (`triggerCount`, `nextRunAt`) wins, since it describes that cursor (a
 * stale writer of an older deployment must not stamp its fingerprint on a
 * newer one's cursor, nor the other way round); the other side's when that
 * one has none (a custom caller, a Rust writer).
 */
export function mergedDefinition(
  stored: Pick<JobState, "triggerCount" | "definition">,
  incoming: Pick<JobState, "triggerCount" | "definition">,
): string | undefined {
  return stored.triggerCount > incoming.triggerCount
    ? stored.definition ?? incoming.definition
    : incoming.definition ?? stored.definition;
}

/**
 * The fields of {@linkcode mergeJobStates}, without the definition
 * fingerprint: for a store that keeps the fingerprint beside the fields
 * (attaching it costs a property definition on every save).
 */
export function mergeStateFields(
  stored: JobState,
  incoming: JobState,
): JobState {
  const merged = mergeTimes(stateTimes(stored), stateTimes(incoming));
  return {
    jobId: incoming.jobId,
    triggerCount: merged.triggerCount,
    nextRunAt: dateOf(merged.nextRunAt),
    lastRunAt: dateOf(merged.lastRunAt),
    lastSuccessAt: dateOf(merged.lastSuccessAt),
    lastError: merged.lastError,
  };
}

/**
 * The JSON text a save writes over `storedValue` (the raw stored value, or
 * `null` when absent): `state` merged over it. A stored value that is not
 * a state of this job is replaced, as a plain write did.
 */
export function mergedText(storedValue: unknown, state: JobState): string {
  let stored: JobState | undefined;
  if (storedValue !== null) {
    try {
      stored = decodeJobState(storedValue, state.jobId);
    } catch {
      stored = undefined;
    }
  }
  return encodeJobState(mergeJobStates(stored, state));
}

/** Merge-and-retry rounds before a save gives up (only under a write storm). */
export const MAX_MERGE_ROUNDS = 100;

/** A save or create that lost every one of its compare-and-set rounds. */
export function writeStormError(jobId: string): StoreError {
  return new StoreError(
    `the state of job ${
      JSON.stringify(jobId)
    } changed under every one of ${MAX_MERGE_ROUNDS} write attempts`,
    { kind: StoreErrorKind.Unknown, operation: StoreOperation.Save },
  );
}
