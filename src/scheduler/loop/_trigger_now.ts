/**
 * The engine's side of `triggerNow()`: a manual run planned against the
 * current state (after the state has loaded), then started at once or
 * queued, with a promise for the record of its last attempt.
 *
 * @module
 */

import { TriggerNowErrorKind } from "../../constants.ts";
import type { RunRecord } from "../events/report.ts";
import {
  planManualRun,
  triggerNowError,
  type TriggerNowOptions,
} from "../run/manual.ts";
import { ActiveRun } from "../run/_run_execution.ts";
import type { EngineCore } from "./_engine_core.ts";
import { startRun } from "./_launch.ts";

/**
 * Starts a manual run now (or queues it, under `queue-one`), outside the
 * schedule; resolves with the record of its last attempt.
 */
export function triggerNow<D>(
  core: EngineCore<D>,
  options?: TriggerNowOptions,
): Promise<RunRecord> {
  if (core.state === undefined) {
    // Called while the state loads: wait for it (a failed load fails it).
    return core.loaded.then(() => {
      if (core.state === undefined) {
        throw triggerNowError(core.jobId, TriggerNowErrorKind.Failed);
      }
      return triggerNow(core, options);
    });
  }
  if (core.fatal !== undefined) {
    return Promise.reject(
      triggerNowError(
        core.jobId,
        TriggerNowErrorKind.Failed,
        core.fatal,
      ),
    );
  }
  const { control, job, config } = core.options;
  let planned: ReturnType<typeof planManualRun>;
  try {
    planned = planManualRun(options, {
      job,
      zone: config,
      state: core.state,
      activeRuns: core.active.size,
      queued: core.queued !== undefined,
      paused: control.paused,
      stopping: core.stopping(),
    });
  } catch (error) {
    return Promise.reject(error);
  }
  const { trigger, action } = planned;
  const promise = core.manual.add(trigger);
  if (action === "queue") {
    core.queued = trigger;
    core.wakeup.notify();
  } else {
    // Active from now on, so that the overlap policy and stopping see it
    // while the guard is asked.
    const run = new ActiveRun(trigger);
    core.active.add(run);
    startRun(core, trigger, run);
  }
  return promise;
}
