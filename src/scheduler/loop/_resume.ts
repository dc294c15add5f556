/**
 * A `run()` that starts from a state already loaded: a `JobGroup` loads the
 * states of all its jobs at once (with their events) and starts a job's
 * engine only when the job is due or its handle is used (docs/jobs.md).
 *
 * @module
 */

import type { JobState } from "../../store/job_state.ts";
import type { SchedulerEvent } from "../events/events.ts";
import type { RunView } from "./_run_view.ts";

/** The key of the resume in `run()`'s options; not part of the public API. */
export const RESUME: unique symbol = Symbol("scheduler.resume");

/** The loaded state and the load's events not dispatched yet. */
export interface Resume {
  readonly state: JobState;
  /** Dispatched by the run in order, as its own load would have. */
  readonly events: readonly SchedulerEvent[];
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
