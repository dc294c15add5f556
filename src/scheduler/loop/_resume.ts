/**
 * A `run()` that starts from a state already loaded, and may end by going
 * back to sleep: a `JobGroup` loads the states of all its jobs at once (with
 * their events), starts a job's engine only when the job is due or its
 * handle is used, and takes the job back once it sleeps until an occurrence
 * that is not near (docs/jobs.md, "How a group sleeps").
 *
 * @module
 */

import type { JobState } from "../../store/job_state.ts";
import type { SchedulerEvent } from "../events/events.ts";
import type { RunHistory, SchedulerReport } from "../events/report.ts";
import type { RunView } from "./_run_view.ts";

/** The key of the resume in `run()`'s options; not part of the public API. */
export const RESUME: unique symbol = Symbol("scheduler.resume");

/** The loaded state and the load's events not dispatched yet. */
export interface Resume {
  /** `undefined` only when the load `failed` before it had a state. */
  readonly state: JobState | undefined;
  /** Dispatched by the run in order, as its own load would have. */
  readonly events: readonly SchedulerEvent[];
  /**
   * The load failed with `error`: the run dispatches `events`, then fails
   * with it as its own load would have, without loading a second time.
   */
  readonly failed?: { readonly error: unknown };
  /** The runs recorded so far (the job ran and rested before). */
  readonly history?: RunHistory;
  /**
   * Asked when the loop would sleep, with nothing running, queued or paused,
   * until `wakeAt`: `true` ends the run as `RESTED` (no `scheduler-stopped`,
   * `done` stays pending), the caller waking it again later.
   */
  readonly rest?: (wakeAt: number) => boolean;
}

/** The stop reason of a run that went back to sleep (see `Resume.rest`). */
export const RESTED = "rested";

/** Whether a report is that of a run gone back to sleep (not an end). */
export function isRested(report: SchedulerReport): boolean {
  return (report.stopReason as string) === RESTED;
}

/**
 * The resume in `run()`'s options, if any (a `JobGroup`'s job starting from
 * the state the group loaded); the run's view counts as loaded then, as it
 * would at the `state-loaded` the group already dispatched.
 */
export function takeResume(
  options: object,
  view: RunView,
): Resume | undefined {
  const resume = (options as { [RESUME]?: Resume })[RESUME];
  if (resume !== undefined) view.markLoaded();
  return resume;
}
