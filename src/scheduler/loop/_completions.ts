/**
 * Recording what runs hand back: each attempt's record goes into the state
 * (never moving `lastRunAt` backwards), the history, the store and the
 * events; a finished run leaves the active set and answers the manual
 * request waiting on it; a failure becomes the reason `run()` fails.
 *
 * @module
 */

import { TriggerNowErrorKind } from "../../constants.ts";
import { toRunRecord } from "../events/report.ts";
import { recordCompletion } from "../rules/_completion.ts";
import { runCompletedEvent, runRetryingEvent } from "../run/_event_details.ts";
import type { EngineCore } from "./_engine_core.ts";
import { saveAndEndLease } from "./_leased_writes.ts";

/**
 * Applies the outcomes runs handed back, in the order they arrived.
 */
export async function applyCompletions<D>(
  core: EngineCore<D>,
): Promise<void> {
  while (core.completions.length > 0) {
    const { run, record, failure, final, retry, lease } = core.completions
      .shift()!;
    if (final) core.active.delete(run);
    core.settled = false;
    if (failure !== undefined) {
      core.fail(failure);
    } else if (record !== undefined) {
      ({ state: core.state, newestStart: core.newestStart } = recordCompletion(
        core.state,
        record,
        core.newestStart,
      ));
      core.history.push(record);
      if (record.manual) {
        core.manual.recorded(run.trigger, toRunRecord(record));
      }
      // A run that handed its lease over has it ended with this save.
      if (lease === undefined) await core.persist();
      else {
        await saveAndEndLease(core, {
          trigger: run.trigger,
          lease,
          status: record.status,
        });
      }
      if (core.options.listens("run-completed")) {
        core.options.dispatch(runCompletedEvent(core.jobId, record));
      }
      if (retry !== undefined && core.options.listens("run-retrying")) {
        core.options.dispatch(
          runRetryingEvent(core.jobId, run.trigger, {
            ...retry,
            error: record.error ?? "",
          }),
        );
      }
    }
    if (final) {
      core.manual.over(
        run.trigger,
        failure === undefined
          ? TriggerNowErrorKind.Stopping
          : TriggerNowErrorKind.Failed,
        failure,
      );
    }
  }
}
