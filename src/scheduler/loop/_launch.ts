/**
 * Starting runs: a saved decision carried out (its skip and trigger events,
 * then a start or a queued trigger), the guard asked for the slot (at once
 * for the single-instance guard), expired at-least-once runs reclaimed, and
 * each granted run launched as an `ActiveRun`.
 *
 * @module
 */

import { describeThrown, SchedulerError } from "../../errors.ts";
import type { ExecutionLease } from "../../guard/execution_guard.ts";
import type { Decision, Trigger } from "../rules/_decide.ts";
import { runStartedEvent, triggerEvent } from "../run/_event_details.ts";
import { overlapAfterManual } from "../run/manual.ts";
import { ActiveRun } from "../run/_run_execution.ts";
import { acquireSlot, toGuardError } from "./_acquire.ts";
import type { EngineCore } from "./_engine_core.ts";
import type { Reclaimed } from "./_reclaim.ts";

/**
 * Reports a saved decision and starts or queues its trigger; returns a
 * promise only when starting has to wait for the guard.
 */
export function carryOut<D>(
  core: EngineCore<D>,
  saved: Decision,
): Promise<void> | undefined {
  const decision = overlapAfterManual(saved, {
    overlapPolicy: core.options.job.overlapPolicy,
    activeRuns: core.active.size,
    queued: core.queued !== undefined,
  });
  const { trigger } = decision;
  let action = decision.action;
  // The save may have let a stop or a pause in: nothing new starts then.
  // A paused trigger waits in the queue for resume(); a stopped one is
  // consumed without a run, like a queued trigger discarded at a stop.
  if (action === "start" && core.stopping()) action = "none";
  else if (action === "start" && core.options.control.paused) {
    action = "queue";
  }
  const dropped = decision.action === "none" && trigger !== undefined;
  if (!dropped) emitSkipped(core, decision);
  if (trigger !== undefined && core.options.listens("trigger-emitted")) {
    core.options.dispatch(triggerEvent("trigger-emitted", core.jobId, trigger));
  }
  if (dropped) emitSkipped(core, decision);
  if (action === "start") return startRun(core, trigger!);
  if (action === "queue") core.queued = trigger;
  return undefined;
}

function emitSkipped<D>(core: EngineCore<D>, decision: Decision): void {
  const skipped = decision.skipped;
  if (skipped === undefined) return;
  if (core.options.listens("run-skipped")) {
    core.options.dispatch({
      type: "run-skipped",
      jobId: core.jobId,
      scheduledAt: new Date(skipped.scheduledAt),
      triggerCount: decision.cursor.triggerCount,
      count: skipped.count,
      reason: skipped.reason,
    });
  }
}

/**
 * Asks the guard for the trigger's slot and starts the run. The
 * single-instance guard always grants, so that path takes no promise hop.
 */
export function startRun<D>(
  core: EngineCore<D>,
  trigger: Trigger,
  run?: ActiveRun,
): Promise<void> | undefined {
  if (core.host.trivialGuard) {
    launch(core, trigger, trivialLease(core.jobId, trigger), run);
    return undefined;
  }
  return acquireAndLaunch(core, trigger, run);
}

function trivialLease(jobId: string, trigger: Trigger): ExecutionLease {
  return new TrivialLease(jobId, trigger.scheduledAt);
}

/**
 * The lease of the single-instance guard, which nobody reads on the way
 * (nothing to renew or release): its `Date` is made only if asked for.
 */
class TrivialLease implements ExecutionLease {
  readonly token = "";
  readonly leaseKey = "";
  constructor(readonly jobId: string, readonly scheduledAtMs: number) {}
  get scheduledAt(): Date {
    return new Date(this.scheduledAtMs);
  }
}

/**
 * Acquires the slot and launches the run (`run`, when it was already
 * counted as active); when nothing launches, `run` is completed without a
 * record and a manual request learns why.
 */
async function acquireAndLaunch<D>(
  core: EngineCore<D>,
  trigger: Trigger,
  run?: ActiveRun,
): Promise<void> {
  const reclaimer = core.delivery.reclaimer;
  const lease = await acquireSlot({
    jobId: core.jobId,
    guard: core.host.guard,
    // At-least-once occurrences are granted with their in-flight record;
    // a manual run is not an occurrence and has none.
    acquire: reclaimer === undefined || trigger.manual
      ? undefined
      : (slotTrigger) => reclaimer.acquire(slotTrigger),
    listens: (type) => core.options.listens(type),
    dispatch: (event) => core.options.dispatch(event),
    stopping: () => core.stopping(),
    fail: (error) => core.fail(error),
  }, trigger);
  if (typeof lease === "object") {
    launch(core, trigger, lease, run);
    return;
  }
  core.manual.over(trigger, lease);
  if (run !== undefined) core.host.complete({ run, final: true });
}

/**
 * Reclaims the expired in-flight records `planReclaim` picks and starts
 * them; whether anything started (or failed), so the loop looks again.
 */
export async function reclaimExpired<D>(
  core: EngineCore<D>,
): Promise<boolean> {
  let reclaimed: Reclaimed[];
  try {
    reclaimed = await core.delivery.reclaimer!.check({
      activeRuns: core.active.size,
      queued: core.queued !== undefined,
      stopping: () => core.stopping(),
    });
  } catch (error) {
    core.fail(toGuardError(error, core.jobId));
    return true;
  }
  for (const { trigger, lease, event } of reclaimed) {
    if (core.options.listens("run-reclaimed")) core.options.dispatch(event);
    launch(core, trigger, lease);
  }
  return reclaimed.length > 0;
}

/** Starts a run that holds `lease`. */
function launch<D>(
  core: EngineCore<D>,
  trigger: Trigger,
  lease: ExecutionLease,
  run: ActiveRun = new ActiveRun(trigger),
): void {
  core.active.add(run);
  core.settled = false;
  if (core.options.listens("run-started")) {
    core.options.dispatch(
      runStartedEvent(core.jobId, trigger, {
        fencingToken: lease.fencingToken,
        attempt: 1,
      }),
    );
  }
  run.execute(core.host, lease).catch((error) => {
    // execute() reports exactly once by design; this only keeps a bug in
    // it from leaving run() waiting for a run that will never complete.
    core.active.delete(run);
    core.fail(
      new SchedulerError(
        `internal error while running job ${JSON.stringify(core.jobId)}: ${
          describeThrown(error)
        }`,
        { cause: error },
      ),
    );
  });
}
