/**
 * The effectful loop that carries out `decide()`'s decisions for one
 * `run()`: it loads the state, sleeps until the next occurrence, saves before
 * each run, hands the runs to start to `_launch.ts` and what they hand back
 * to `_completions.ts`, and stops as ARCHITECTURE.md describes (in-flight
 * runs settle first, always a `scheduler-stopped`). The state it shares with
 * those parts is in `_engine_core.ts`.
 *
 * @module
 */

import {
  type RunStatus,
  SchedulerStopReason,
  TriggerNowErrorKind,
} from "../../constants.ts";
import { describeThrown, isInstance, SchedulerError } from "../../errors.ts";
import {
  type ExecutionGuard,
  type ExecutionLease,
  NoopExecutionGuard,
} from "../../guard/execution_guard.ts";
import { copyJobState, savedState } from "../../store/job_state.ts";
import { keepsNumbersOnly } from "../../store/in_memory.ts";
import { decide, decisionBlocked } from "../rules/_decide.ts";
import type { OccurrenceCursor } from "../../schedule/_occurrences.ts";
import type { SchedulerEvent } from "../events/events.ts";
import type { Job } from "../job/job.ts";
import type { SchedulerReport } from "../events/report.ts";
import type {
  RunControls,
  RunHost,
  RunOutcome,
} from "../run/_run_execution.ts";
import { Jitter } from "../job/_jitter.ts";
import { DeadlineWatch } from "../run/_deadlines.ts";
import {
  deleteTerminalState,
  loadJobState,
  type StateEffectsHost,
} from "./_state_effects.ts";
import { WakePlan } from "../rules/_wake_plan.ts";
import { checkCountable } from "../rules/_initial_state.ts";
import { nextMacrotask, WakeClock } from "./_wake_clock.ts";
import { overlapBesideReplays } from "../rules/_reclaim_plan.ts";
import { carryOut, reclaimExpired, saveAndCarryOutLeased } from "./_launch.ts";
import { giveBackQueued, startQueued } from "./_queued_lease.ts";
import { applyCompletions } from "./_completions.ts";
import { triggerNow } from "./_trigger_now.ts";
import { EngineCore, type EngineOptions } from "./_engine_core.ts";
import { DateHandoff } from "./_date_handoff.ts";
import { RESTED } from "./_resume.ts";
import { adoptResumed, mayRest } from "./_rest.ts";

/**
 * The lifetime of one `Scheduler.run()`: runs one job until it is exhausted,
 * stopped, or fails. One execution of the task inside it is an `ActiveRun`.
 */
export class Engine<D> implements RunHost<D> {
  readonly jobId: string;
  readonly timezone: string;
  readonly deps: D;
  readonly task: Job<D>["task"];
  readonly guard: ExecutionGuard;
  readonly trivialGuard: boolean;
  readonly handsOffLease: boolean;
  readonly controls: RunControls;
  readonly tracer: RunHost<D>["tracer"];
  readonly #core: EngineCore<D>;
  readonly #plan: WakePlan<D>;
  readonly #clock = new WakeClock({
    predictNext: (firedAt) => this.#plan.predictNext(firedAt),
    wake: () => this.#core.wakeup.notify(),
  });
  readonly #effects: StateEffectsHost<D>;
  #ended = false;
  readonly #dates: DateHandoff;

  constructor(options: EngineOptions<D>) {
    const core = new EngineCore(options, this);
    this.#core = core;
    const { job } = options;
    this.jobId = job.jobId;
    this.timezone = options.config.timezone;
    this.deps = job.deps;
    this.task = job.task;
    this.guard = core.delivery.reclaimer?.wrap(options.guard) ?? options.guard;
    this.tracer = options.tracer;
    this.handsOffLease = core.leased !== undefined;
    this.trivialGuard = core.delivery.reclaimer === undefined &&
      Object.getPrototypeOf(options.guard) === NoopExecutionGuard.prototype;
    this.#dates = new DateHandoff(
      this.trivialGuard && keepsNumbersOnly(options.store),
    );
    this.controls = {
      runTimeoutMs: job.runTimeoutMs,
      retryPolicy: job.retryPolicy,
      overlapPolicy: job.overlapPolicy,
      jitter: new Jitter(job.jobId, job.jitterMaxMs),
      deadlines: job.runTimeoutMs === undefined
        ? undefined
        : new DeadlineWatch(),
    };
    this.#plan = new WakePlan(job, options.config, this.controls.jitter);
    this.#effects = {
      jobId: this.jobId,
      job,
      config: options.config,
      store: options.store,
      definition: core.definition,
      listens: (type) => this.listens(type),
      dispatch: (event) => this.dispatch(event),
      adopt: (state) => core.state = state,
      grid: Object.getPrototypeOf(options.guard) !==
        NoopExecutionGuard.prototype,
    };
  }

  nextDueAt(): number | null {
    const next = this.#core.state.nextRunAt;
    return next === null
      ? null
      : this.controls.jitter.wakeInstant(next.getTime());
  }

  stopping(): boolean {
    return this.#core.stopping();
  }

  paused(): boolean {
    return this.#core.options.control.paused;
  }

  /** The `Date` of a first attempt's `scheduledAt` (`_date_handoff.ts`). */
  scheduledDate(scheduledAt: number): Date {
    return this.#dates.take(scheduledAt);
  }

  listens(type: SchedulerEvent["type"]): boolean {
    return this.#core.options.listens(type);
  }

  dispatch(event: SchedulerEvent): void {
    this.#core.options.dispatch(event);
  }

  settleLease(
    lease: ExecutionLease,
    status: RunStatus,
  ): Promise<void> | undefined {
    return this.#core.delivery.reclaimer?.settle(lease, status);
  }

  leaseLost(): void {
    this.#core.options.control.shutdown();
  }

  complete(outcome: RunOutcome): void {
    this.#core.completions.push(outcome);
    this.#core.wakeup.notify();
  }

  /** Runs the job; resolves with the report or rejects with a SchedulerError. */
  async run(): Promise<SchedulerReport> {
    const core = this.#core;
    const { control } = core.options;
    control.attach(() => this.#onControl());
    let reason: SchedulerStopReason | typeof RESTED =
      SchedulerStopReason.Failed;
    // A timer is pending from the first moment, so a fake clock's
    // `runAllAsync()` called right after `run()` does not find an empty timer
    // queue (and return) while the state is still loading. Arming the first
    // real wake-up replaces it.
    this.#clock.armFor(Date.now());
    try {
      control.attachTrigger((options) => triggerNow(core, options));
      control.attachIdle(() => this.#idle());
      if (core.delivery.error !== undefined) {
        throw core.delivery.error;
      }
      if (core.options.ready !== undefined) await core.options.ready;
      if (core.options.resume === undefined) {
        await loadJobState(this.#effects).finally(() => core.markLoaded());
        this.#onControl(); // a stop requested before run() applies now
      } else adoptResumed(core, core.options.resume);
      reason = await this.#loop();
    } catch (error) {
      core.fatal ??= isInstance(error, SchedulerError)
        ? error
        : new SchedulerError(describeThrown(error), { cause: error });
    }
    await giveBackQueued(core);
    this.#clock.disarm();
    this.#ended = true;
    this.controls.deadlines?.close();
    // Manual runs queued but never started, or still being acquired.
    core.manual.endAll(
      core.fatal === undefined
        ? TriggerNowErrorKind.Stopping
        : TriggerNowErrorKind.Failed,
      core.fatal,
    );
    core.delivery.reclaimer?.dispose();
    core.options.finish();
    if (core.fatal !== undefined) {
      const fatal = core.fatal;
      if (this.listens("scheduler-stopped")) {
        this.dispatch({
          type: "scheduler-stopped",
          jobId: this.jobId,
          triggerCount: core.state?.triggerCount ?? 0,
          reason: SchedulerStopReason.Failed,
          error: fatal.message,
        });
      }
      throw fatal;
    }
    if (reason !== RESTED && this.listens("scheduler-stopped")) {
      this.dispatch({
        type: "scheduler-stopped",
        jobId: this.jobId,
        triggerCount: core.state.triggerCount,
        reason,
      });
    }
    return {
      jobId: this.jobId,
      state: copyJobState(savedState(core.state, core.definition)),
      history: core.history.toArray(),
      stopReason: reason as SchedulerStopReason, // RESTED: only _resume.ts's
    };
  }

  /**
   * Resolves once the loop is parked (sleeping until its next wake-up, or
   * waiting for runs that wait themselves) and a whole turn of the event
   * loop passed without anything waking it: every timer firing delivered so
   * far has been decided and every run that could finish without another
   * timer has been recorded and saved. The turn is a timer of the runtime's
   * own `setTimeout`, taken before any fake clock replaces it
   * (`nextMacrotask` in `_wake_clock.ts`; see docs/testing.md).
   */
  async #idle(): Promise<void> {
    const { wakeup } = this.#core;
    while (!this.#ended) {
      const seen = wakeup.notifications;
      const parked = wakeup.parked;
      await nextMacrotask();
      if (parked && wakeup.parked && wakeup.notifications === seen) return;
    }
  }

  /** A control change: wake the loop, abort (cancel) or release (resume) runs. */
  #onControl(): void {
    const core = this.#core;
    const { stop, paused } = core.options.control;
    if (stop?.kind === "cancel") {
      for (const run of core.active) run.abort(stop.reason);
    } else if (stop !== undefined) {
      for (const run of core.active) run.interrupt(); // no further retries
    } else if (!paused) {
      for (const run of core.active) run.resumed();
    }
    core.wakeup.notify();
  }

  async #loop(): Promise<SchedulerStopReason | typeof RESTED> {
    const core = this.#core;
    const { control, job } = core.options;
    for (;;) {
      if (core.completions.length > 0) await applyCompletions(core);
      const stop = control.stop;
      if (core.fatal !== undefined || stop !== undefined) {
        if (core.active.size === 0) {
          if (core.fatal !== undefined) return SchedulerStopReason.Failed;
          return stop!.kind === "cancel"
            ? SchedulerStopReason.Cancelled
            : SchedulerStopReason.Shutdown;
        }
        await core.wakeup.wait();
        continue;
      }
      if (!control.paused) {
        if (core.active.size === 0 && core.queued !== undefined) {
          const starting = startQueued(core);
          if (starting !== undefined) await starting;
          continue;
        }
        const lagging = this.#clock.lagging;
        if (lagging && core.active.size > 0 && !core.settled) {
          // Timers fired in one synchronous burst (a fake clock): let the
          // runs started at an earlier instant finish, as they could have
          // between two real timers, before deciding at the next instant.
          core.settled = true;
          await nextMacrotask();
          continue;
        }
        core.settled = false;
        if (
          core.delivery.reclaimer?.shouldCheck(
            core.state.nextRunAt,
            {
              activeRuns: core.active.size,
              queued: core.queued !== undefined,
            },
          ) &&
          await reclaimExpired(core)
        ) continue;
        const decision = decide(this.#plan.decisionInput({
          cursor: this.#cursor(),
          at: this.#clock.takeNow(),
          overlapPolicy: core.active.size === 0
            ? job.overlapPolicy // nothing to look through
            : overlapBesideReplays(job.overlapPolicy, core.active),
          activeRuns: core.active.size,
          queued: core.queued !== undefined,
        }));
        if (decision !== undefined) {
          const { state } = core;
          checkCountable(state, decision.cursor.triggerCount);
          const next = decision.cursor.nextRunAt;
          const nextRunAt = next === null ? null : new Date(next);
          this.#dates.decided(state.nextRunAt, nextRunAt);
          core.state = { // written out rather than spread: once per run
            jobId: state.jobId,
            triggerCount: decision.cursor.triggerCount,
            lastRunAt: state.lastRunAt,
            lastSuccessAt: state.lastSuccessAt,
            nextRunAt,
            lastError: state.lastError,
          };
          if (core.delivery.reclaimer !== undefined) {
            // At-least-once: leased before saved (see _launch.ts).
            await saveAndCarryOutLeased(core, decision);
          } else if (await core.persist()) {
            // Saved before anything starts: at most one run per occurrence,
            // even across a crash.
            const starting = carryOut(core, decision);
            if (starting !== undefined) await starting;
          }
          continue;
        }
        if (lagging) continue; // nothing due at that instant: the next one
      }
      this.#clock.dropBurst();
      if (
        core.state.nextRunAt === null && core.active.size === 0 &&
        core.queued === undefined
      ) {
        // At-least-once: a run another instance still holds may need us.
        const reclaimer = core.delivery.reclaimer;
        if (reclaimer !== undefined && !control.paused) {
          if (await reclaimExpired(core)) continue;
          if (reclaimer.open && !core.stopping()) {
            await this.#waitForWork();
            continue;
          }
        }
        await deleteTerminalState(this.#effects, core.state);
        return SchedulerStopReason.Terminal;
      }
      if (mayRest(core, this.#clock.lagging, this.controls.jitter)) {
        return RESTED; // back to its group's clock
      }
      await this.#waitForWork();
    }
  }

  /** The state's occurrence cursor. */
  #cursor(): OccurrenceCursor {
    const core = this.#core;
    return {
      triggerCount: core.state.triggerCount,
      nextRunAt: core.state.nextRunAt?.getTime() ?? null,
    };
  }

  /** Sleeps until the next occurrence or until something changes. */
  #waitForWork(): Promise<void> {
    const core = this.#core;
    const { control, job } = core.options;
    const next = core.state.nextRunAt?.getTime();
    const canSleep = next !== undefined && !control.paused &&
      !decisionBlocked({
        missedRunPolicy: job.missedRunPolicy,
        overlapPolicy: job.overlapPolicy,
        activeRuns: core.active.size,
        queued: core.queued !== undefined,
      });
    if (canSleep) {
      this.#plan.resetTo(this.#cursor());
      this.#clock.armFor(this.controls.jitter.wakeInstant(next));
    } else {
      this.#clock.disarm();
    }
    return core.wakeup.wait();
  }
}
