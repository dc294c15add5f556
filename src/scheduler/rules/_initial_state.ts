/**
 * Where a run starts from, as a pure function of what the store returned,
 * the job and "now": a new state, the stored state as is, or a stored
 * interval state repaired with a next run. (The Rust crate's rules.)
 *
 * @module
 */

import {
  InvalidJobKind,
  StateLoadSource,
  StoreErrorKind,
  StoreOperation,
} from "../../constants.ts";
import { InvalidJobError, StoreError } from "../../errors.ts";
import { MAX_STORABLE_MS } from "../../schedule/_civil.ts";
import { firstOccurrence } from "../../schedule/_occurrences.ts";
import {
  copyJobState,
  type JobState,
  jobStateProblem,
} from "../../store/job_state.ts";
import type { ResolvedConfig } from "../job/config.ts";
import type { Job } from "../job/job.ts";

/** The state a run starts from, and how it was obtained. */
export interface InitialState {
  readonly state: JobState;
  readonly source: StateLoadSource;
  /** Whether the state must be saved before anything else (new, repaired). */
  readonly save: boolean;
}

/**
 * Checks what a (possibly custom) store handed back.
 *
 * @throws {StoreError} kind `data` for a malformed state or another job's.
 */
export function checkStoredState(
  stored: JobState | undefined,
  jobId: string,
): void {
  if (stored === undefined) return;
  const problem = jobStateProblem(stored) ??
    (stored.jobId === jobId
      ? undefined
      : `it belongs to job ${JSON.stringify(stored.jobId)}`);
  if (problem !== undefined) {
    throw new StoreError(
      `the store returned an invalid state for job ${
        JSON.stringify(jobId)
      }: ${problem}`,
      { kind: StoreErrorKind.Data, operation: StoreOperation.Load },
    );
  }
}

/**
 * Checks that consuming occurrences leaves a count a state can hold: only a
 * damaged stored count (no job runs 2^53 times) gets past
 * `Number.MAX_SAFE_INTEGER`, and saying so beats the save refusing the
 * state the engine made of it.
 *
 * @throws {StoreError} kind `data`, operation `load`, naming the stored count.
 */
export function checkCountable(
  state: Pick<JobState, "jobId" | "triggerCount">,
  consumedCount: number,
): void {
  if (Number.isSafeInteger(consumedCount)) return;
  throw new StoreError(
    `the stored trigger count ${state.triggerCount} of job ${
      JSON.stringify(state.jobId)
    } cannot count further occurrences (past Number.MAX_SAFE_INTEGER): the stored state is damaged`,
    { kind: StoreErrorKind.Data, operation: StoreOperation.Load },
  );
}

/**
 * - nothing stored → a new state (`triggerCount` 0, the first occurrence);
 * - a stored interval state with `nextRunAt` null and runs left → repaired
 *   to `now + everyMs`, every other field kept;
 * - a stored state that already reached `maxRuns` → ended (`nextRunAt` null,
 *   to be saved): `maxRuns` caps `triggerCount`;
 * - anything else → the stored state as is (terminal when `nextRunAt` is null).
 *
 * @throws {InvalidJobError} kind `interval-out-of-range` when the first or
 * repaired run would be beyond the `Date` range.
 */
export function initialState<D>(
  stored: JobState | undefined,
  options: {
    job: Job<D>;
    config: ResolvedConfig;
    now: number;
    /** Interval occurrences on the epoch grid (see `firstOccurrence`). */
    grid?: boolean;
  },
): InitialState {
  const { job, config, now } = options;
  if (stored === undefined) {
    const next = firstOccurrence(job.schedule, {
      now,
      grid: options.grid,
      maxRuns: job.maxRuns,
      timezone: config.timezone,
      dst: config.dst,
    });
    return {
      source: StateLoadSource.New,
      save: true,
      state: {
        jobId: job.jobId,
        triggerCount: 0,
        lastRunAt: null,
        lastSuccessAt: null,
        nextRunAt: next === null ? null : new Date(next),
        lastError: null,
      },
    };
  }
  const { schedule, maxRuns } = job;
  if (
    stored.nextRunAt !== null && maxRuns !== undefined &&
    stored.triggerCount >= maxRuns
  ) {
    // maxRuns caps triggerCount: a cap lowered since the state was stored
    // ends the schedule instead of letting the stored next run fire.
    return {
      source: StateLoadSource.Restored,
      save: true,
      state: { ...copyJobState(stored), nextRunAt: null },
    };
  }
  const repairable = stored.nextRunAt === null &&
    schedule.kind === "interval" &&
    (maxRuns === undefined || stored.triggerCount < maxRuns);
  if (!repairable) {
    return {
      source: StateLoadSource.Restored,
      save: false,
      state: copyJobState(stored),
    };
  }
  const repaired = now + schedule.everyMs;
  if (repaired > MAX_STORABLE_MS) {
    throw new InvalidJobError(
      `interval schedule of ${schedule.everyMs} ms is too large: the next run would be after 9999-12-31, the last instant a job state can hold`,
      { kind: InvalidJobKind.IntervalOutOfRange },
    );
  }
  return {
    source: StateLoadSource.Repaired,
    save: true,
    state: { ...copyJobState(stored), nextRunAt: new Date(repaired) },
  };
}
