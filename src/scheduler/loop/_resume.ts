/**
 * A `run()` that starts from a state already loaded: a `JobGroup` loads the
 * states of all its jobs at once (with their events) and starts a job's
 * engine only when the job is due or its handle is used (docs/jobs.md).
 *
 * @module
 */

import type { JobState } from "../../store/job_state.ts";
import type { SchedulerEvent } from "../events/events.ts";

/** The key of the resume in `run()`'s options; not part of the public API. */
export const RESUME: unique symbol = Symbol("scheduler.resume");

/** The loaded state and the load's events not dispatched yet. */
export interface Resume {
  readonly state: JobState;
  /** Dispatched by the run in order, as its own load would have. */
  readonly events: readonly SchedulerEvent[];
}
