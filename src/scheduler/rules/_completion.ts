/**
 * What a completed run changes in the job's state, as a pure function.
 *
 * @module
 */

import { RunStatus } from "../../constants.ts";
import type { JobState } from "../../store/job_state.ts";
import type { CompletedRun } from "../events/report.ts";

/** The state after a completion, and the newest start recorded so far. */
export interface CompletionResult {
  readonly state: Readonly<JobState>;
  readonly newestStart: number;
}

/**
 * Records a completed run: `lastRunAt` = its start, `lastSuccessAt` = its
 * finish on success, `lastError` set on failure or timeout and cleared on
 * success (a cancelled run leaves both alone). With parallel runs completing out of
 * order, a run that started before the newest one already recorded changes
 * nothing, so these fields never move backwards.
 */
export function recordCompletion(
  state: Readonly<JobState>,
  run: CompletedRun,
  newestStart: number,
): CompletionResult {
  if (run.startedAt < newestStart) return { state, newestStart };
  const success = run.status === RunStatus.Success;
  const lastRunAt = new Date(run.startedAt);
  // Written out rather than spread: this runs once per run.
  return {
    newestStart: run.startedAt,
    state: {
      jobId: state.jobId,
      triggerCount: state.triggerCount,
      lastRunAt,
      // A run that finished within the millisecond it started (a quick task,
      // or any task under a fake clock that did not move) shares its start's
      // `Date`: states are never mutated (see _engine_core.ts), so one object
      // serves both fields (docs/testing.md, "What a firing costs").
      lastSuccessAt: !success
        ? state.lastSuccessAt
        : run.finishedAt === run.startedAt
        ? lastRunAt
        : new Date(run.finishedAt),
      nextRunAt: state.nextRunAt,
      lastError: success
        ? null
        : run.status === RunStatus.Failed || run.status === RunStatus.TimedOut
        ? run.error
        : state.lastError,
    },
  };
}
