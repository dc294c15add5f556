/**
 * Starting runs: a saved decision carried out (its skip and trigger events,
 * then a start or a queued trigger), the guard asked for the slot (at once
 * for the single-instance guard), expired at-least-once runs reclaimed, and
 * each granted run launched as an `ActiveRun`.
 *
 * @module
 */

import {
  ExecutionGuardErrorKind,
  RunStatus,
  TriggerNowErrorKind,
} from "../../constants.ts";
import { describeThrown, SchedulerError } from "../../errors.ts";
import type { ExecutionLease } from "../../guard/execution_guard.ts";
import { leasedGrant } from "./_leased_writes.ts";
import type { Decision, Trigger } from "../rules/_decide.ts";
import { overlapBesideReplays } from "../rules/_reclaim_plan.ts";
import {
  releaseFailedEvent,
  runStartedEvent,
  triggerEvent,
} from "../run/_event_details.ts";
import { overlapAfterManual } from "../run/manual.ts";
import { ActiveRun } from "../run/_run_execution.ts";
import { type AcquireHost, acquireSlot, toGuardError } from "./_acquire.ts";
import type { EngineCore } from "./_engine_core.ts";
import type { CheckResult } from "./_reclaim.ts";

/**
 * Reports a saved decision and starts or queues its trigger; returns a
 * promise only when starting has to wait for the guard.
 */
export function carryOut<D>(
  core: EngineCore<D>,
  saved: Decision,
): Promise<void> | undefined {
  const { decision, action } = effectiveAction(core, saved);
  report(core, decision);
  const { trigger } = decision;
  if (action === "start") return startRun(core, trigger!);
  if (action === "queue") core.queued = trigger;
  return undefined;
}

/** The decision after a manual run's overlap, and what to do with it. */
function effectiveAction<D>(
  core: EngineCore<D>,
  saved: Decision,
): { decision: Decision; action: Decision["action"] } {
  const decision = overlapAfterManual(saved, {
    overlapPolicy: overlapBesideReplays(
      core.options.job.overlapPolicy,
      core.active,
    ),
    activeRuns: core.active.size,
    queued: core.queued !== undefined,
  });
  let action = decision.action;
  // The save may have let a stop or a pause in: nothing new starts then.
  // A paused trigger waits in the queue for resume(); a stopped one is
  // consumed without a run, like a queued trigger discarded at a stop.
  if (action === "start" && core.stopping()) action = "none";
  else if (action === "start" && core.options.control.paused) {
    action = "queue";
  }
  return { decision, action };
}

/** The decision's `run-skipped` and `trigger-emitted` events, in order. */
function report<D>(core: EngineCore<D>, decision: Decision): void {
  const { trigger } = decision;
  const dropped = decision.action === "none" && trigger !== undefined;
  if (!dropped) emitSkipped(core, decision);
  if (trigger !== undefined && core.options.listens("trigger-emitted")) {
    core.options.dispatch(triggerEvent("trigger-emitted", core.jobId, trigger));
  }
  if (dropped) emitSkipped(core, decision);
}

/**
 * At-least-once: takes the occurrence's lease (and so writes its in-flight
 * record) *before* the state that consumes it is saved, then saves and
 * starts or queues it on that lease. A crash between the two leaves either
 * an unsaved state (the occurrence is decided again) or a record whose
 * lease runs out (it is replayed): never a consumed occurrence without a
 * record (docs/recovery.md). A queued trigger keeps its lease
 * (`core.queuedLease`, see _queued_lease.ts). Decisions that start and queue
 * nothing are saved and reported as `carryOut` does.
 */
export async function saveAndCarryOutLeased<D>(
  core: EngineCore<D>,
  decision: Decision,
): Promise<void> {
  const planned = effectiveAction(core, decision);
  if (planned.action === "none") {
    if (await core.persist()) await carryOut(core, decision);
    return;
  }
  const trigger = planned.decision.trigger!;
  // A store that writes the guard's leases saves the state with the grant,
  // in one atomic write (store/leased_writes.ts); a failed grant saves
  // nothing, as below.
  const grant = core.leased === undefined
    ? undefined
    : leasedGrant(core, core.leased);
  const lease = await acquireSlot(
    acquireHost(core, trigger, grant?.acquire),
    trigger,
  );
  // A guard outage: run() fails, and the consumption is not saved, so the
  // occurrence is decided again after a restart.
  if (lease === TriggerNowErrorKind.Failed) return;
  // Damaged guard data twice over is answered `contended` without a grant:
  // the consumption is saved on its own then.
  const saved = grant?.saved === true || await core.persist();
  // What to do now: a pause, a stop or a manual run may have come in during
  // the grant or the save.
  const now = effectiveAction(core, decision);
  if (typeof lease !== "object") {
    if (saved) report(core, planned.decision);
    return;
  }
  if (!saved || core.stopping()) {
    // Not launched after all: the occurrence goes back to the ledger, to be
    // replayed by whoever takes it.
    await giveBack(core, trigger, lease);
    if (saved) report(core, planned.decision);
    return;
  }
  const reclaimer = core.delivery.reclaimer!;
  report(core, now.decision);
  if (now.action === "start") launch(core, trigger, lease);
  else if (now.action === "queue") {
    core.queued = trigger;
    core.queuedLease = lease;
  } else {
    // Skipped by the overlap policy (a manual run came in): consumed
    // without a run, as run-skipped says, so its record is cleared.
    await unused(
      core,
      trigger,
      () => reclaimer.settle(lease, RunStatus.Success),
    );
  }
}

/** Gives back a lease that will not be used (its record is replayed). */
export async function giveBack<D>(
  core: EngineCore<D>,
  trigger: Trigger,
  lease: ExecutionLease,
): Promise<void> {
  await unused(core, trigger, () => core.host.guard.release(lease));
}

/** Ends an unused lease; a failure is reported, the lease runs out. */
async function unused<D>(
  core: EngineCore<D>,
  trigger: Trigger,
  end: () => Promise<void>,
): Promise<void> {
  await end().catch((error) => {
    // The record stays held until its lease runs out: replayed then.
    if (core.options.listens("execution-guard-release-failed")) {
      core.options.dispatch(
        releaseFailedEvent(core.jobId, trigger, error),
      );
    }
  });
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
  const lastError = core.state.lastError;
  const lease = await acquireSlot(acquireHost(core, trigger), trigger);
  if (typeof lease === "object") {
    launch(core, trigger, lease, run);
    return;
  }
  // Damaged guard data kept as lastError is saved now: the occurrence was
  // consumed without a run, and the stored state says why.
  if (core.state.lastError !== lastError) await core.persist();
  core.manual.over(trigger, lease);
  if (run !== undefined) core.host.complete({ run, final: true });
}

/**
 * What acquiring `trigger`'s slot needs from the engine; `acquire` in place
 * of the guard's or the ledger's.
 */
function acquireHost<D>(
  core: EngineCore<D>,
  trigger: Trigger,
  acquire?: AcquireHost["acquire"],
): AcquireHost {
  const reclaimer = core.delivery.reclaimer;
  return {
    jobId: core.jobId,
    guard: core.host.guard,
    // At-least-once occurrences are granted with their in-flight record;
    // a manual run is not an occurrence and has none.
    acquire: acquire ??
      (reclaimer === undefined || trigger.manual
        ? undefined
        : (slotTrigger) => reclaimer.acquire(slotTrigger)),
    listens: (type) => core.options.listens(type),
    dispatch: (event) => core.options.dispatch(event),
    stopping: () => core.stopping(),
    fail: (error) => core.fail(error),
    damaged: (message) => keepError(core, message),
  };
}

/** Keeps a damaged-data error as the job's `lastError` (saved next). */
export function keepError<D>(core: EngineCore<D>, message: string): void {
  core.state = { ...core.state, lastError: message };
}

/**
 * Reclaims the expired in-flight records `planReclaim` picks and starts
 * them (at-most-once: reports them lost); whether anything started (or
 * failed), so the loop looks again.
 */
export async function reclaimExpired<D>(
  core: EngineCore<D>,
): Promise<boolean> {
  let found: CheckResult;
  try {
    found = await core.delivery.reclaimer!.check({
      activeRuns: core.active.size,
      queued: core.queued !== undefined,
      stopping: () => core.stopping(),
    });
  } catch (error) {
    const failure = toGuardError(error, core.jobId);
    if (failure.kind !== ExecutionGuardErrorKind.Data) {
      core.fail(failure);
      return true;
    }
    // Damaged ledger data never stops the job: reported, kept as
    // lastError, set aside by the guard (docs/recovery.md).
    keepError(core, failure.message);
    if (core.options.listens("execution-guard-data-damaged")) {
      core.options.dispatch({
        type: "execution-guard-data-damaged",
        jobId: core.jobId,
        error: failure.message,
        errorKind: failure.kind,
      });
    }
    return core.delivery.reclaimer!.damaged();
  }
  for (const record of found.lost) {
    // At-most-once: its holder died before completing it (docs/recovery.md).
    if (core.options.listens("run-skipped")) {
      core.options.dispatch({
        type: "run-skipped",
        jobId: core.jobId,
        scheduledAt: new Date(record.scheduledAt.getTime()),
        triggerCount: core.state.triggerCount,
        count: 1,
        reason: "lost",
      });
    }
  }
  for (const { trigger, lease, event } of found.reclaimed) {
    if (core.options.listens("run-reclaimed")) core.options.dispatch(event);
    launch(core, trigger, lease);
  }
  return found.reclaimed.length > 0;
}

/** Starts a run that holds `lease`. */
export function launch<D>(
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
