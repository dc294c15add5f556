/**
 * The effectful loop that carries out `decide()`'s decisions for one
 * `run()`: it loads the state, sleeps until the next occurrence, saves before
 * and after each run, asks the guard, starts tasks, records completions, and
 * stops the way the SPEC says (in-flight runs settle first, always a
 * `scheduler-stopped`).
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
import { copyJobState } from "../../store/job_state.ts";
import { decide, decisionBlocked } from "../rules/_decide.ts";
import type { OccurrenceCursor } from "../../schedule/occurrences.ts";
import type { SchedulerEvent } from "../events/events.ts";
import type { Job } from "../job/job.ts";
import {
  type RunRecord,
  type SchedulerReport,
  toRunRecord,
} from "../events/report.ts";
import {
  ActiveRun,
  type RunControls,
  type RunHost,
  type RunOutcome,
} from "../run/_run_execution.ts";
import { Jitter } from "../job/_jitter.ts";
import {
  planManualRun,
  triggerNowError,
  type TriggerNowOptions,
} from "../run/manual.ts";
import {
  deleteTerminalState,
  loadJobState,
  type StateEffectsHost,
} from "./_state_effects.ts";
import { WakePlan } from "../rules/_wake_plan.ts";
import { recordCompletion } from "../rules/_completion.ts";
import { runCompletedEvent, runRetryingEvent } from "../run/_event_details.ts";
import { nextMacrotask, WakeClock } from "./_wake_clock.ts";
import { carryOut, reclaimExpired, startRun } from "./_launch.ts";
import { EngineCore, type EngineOptions } from "./_engine_core.ts";

function dateOrNull(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

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
  readonly controls: RunControls;
  readonly #core: EngineCore<D>;
  readonly #plan: WakePlan<D>;
  readonly #clock = new WakeClock({
    predictNext: (firedAt) => this.#plan.predictNext(firedAt),
    wake: () => this.#core.wakeup.notify(),
  });
  readonly #effects: StateEffectsHost<D>;

  constructor(options: EngineOptions<D>) {
    const core = new EngineCore(options, this);
    this.#core = core;
    const { job } = options;
    this.jobId = job.jobId;
    this.timezone = options.config.timezone;
    this.deps = job.deps;
    this.task = job.task;
    this.guard = core.delivery.reclaimer?.wrap(options.guard) ?? options.guard;
    this.trivialGuard = core.delivery.reclaimer === undefined &&
      Object.getPrototypeOf(options.guard) === NoopExecutionGuard.prototype;
    this.controls = {
      runTimeoutMs: job.runTimeoutMs,
      retryPolicy: job.retryPolicy,
      overlapPolicy: job.overlapPolicy,
      jitter: new Jitter(job.jobId, job.jitterMaxMs),
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
    const { control } = this.#core.options;
    control.attach(() => this.#onControl());
    let reason: SchedulerStopReason = SchedulerStopReason.Failed;
    // A timer is pending from the first moment, so a fake clock's
    // `runAllAsync()` called right after `run()` does not find an empty timer
    // queue (and return) while the state is still loading. Arming the first
    // real wake-up replaces it.
    this.#clock.armFor(Date.now());
    try {
      control.attachTrigger((options) => this.triggerNow(options));
      if (this.#core.delivery.error !== undefined) {
        throw this.#core.delivery.error;
      }
      await loadJobState(this.#effects).finally(() => this.#core.markLoaded());
      this.#onControl(); // a stop requested before run() applies now
      reason = await this.#loop();
    } catch (error) {
      this.#core.fatal ??= isInstance(error, SchedulerError)
        ? error
        : new SchedulerError(describeThrown(error), { cause: error });
    }
    this.#clock.disarm();
    // Manual runs queued but never started, or still being acquired.
    this.#core.manual.endAll(
      this.#core.fatal === undefined
        ? TriggerNowErrorKind.Stopping
        : TriggerNowErrorKind.Failed,
      this.#core.fatal,
    );
    this.#core.delivery.reclaimer?.dispose();
    this.#core.options.finish();
    if (this.#core.fatal !== undefined) {
      const fatal = this.#core.fatal;
      if (this.listens("scheduler-stopped")) {
        this.dispatch({
          type: "scheduler-stopped",
          jobId: this.jobId,
          triggerCount: this.#core.state?.triggerCount ?? 0,
          reason: SchedulerStopReason.Failed,
          error: fatal.message,
        });
      }
      throw fatal;
    }
    if (this.listens("scheduler-stopped")) {
      this.dispatch({
        type: "scheduler-stopped",
        jobId: this.jobId,
        triggerCount: this.#core.state.triggerCount,
        reason,
      });
    }
    return {
      jobId: this.jobId,
      state: copyJobState(this.#core.state),
      history: this.#core.history.toArray(),
      stopReason: reason,
    };
  }

  /** A control change: wake the loop; a cancel also aborts running tasks. */
  #onControl(): void {
    const stop = this.#core.options.control.stop;
    if (stop?.kind === "cancel") {
      for (const run of this.#core.active) run.abort(stop.reason);
    } else if (stop !== undefined) {
      for (const run of this.#core.active) run.interrupt(); // no further retries
    }
    this.#core.wakeup.notify();
  }

  async #loop(): Promise<SchedulerStopReason> {
    const { control, job } = this.#core.options;
    for (;;) {
      if (this.#core.completions.length > 0) await this.#applyCompletions();
      const stop = control.stop;
      if (this.#core.fatal !== undefined || stop !== undefined) {
        if (this.#core.active.size === 0) {
          if (this.#core.fatal !== undefined) return SchedulerStopReason.Failed;
          return stop!.kind === "cancel"
            ? SchedulerStopReason.Cancelled
            : SchedulerStopReason.Shutdown;
        }
        await this.#core.wakeup.wait();
        continue;
      }
      if (!control.paused) {
        if (this.#core.active.size === 0 && this.#core.queued !== undefined) {
          const queued = this.#core.queued;
          this.#core.queued = undefined;
          const starting = startRun(this.#core, queued);
          if (starting !== undefined) await starting;
          continue;
        }
        const lagging = this.#clock.lagging;
        if (lagging && this.#core.active.size > 0 && !this.#core.settled) {
          // Timers fired in one synchronous burst (a fake clock): let the
          // runs started at an earlier instant finish, as they could have
          // between two real timers, before deciding at the next instant.
          this.#core.settled = true;
          await nextMacrotask();
          continue;
        }
        this.#core.settled = false;
        if (
          this.#core.delivery.reclaimer?.shouldCheck(
            this.#core.state.nextRunAt,
            {
              activeRuns: this.#core.active.size,
              queued: this.#core.queued !== undefined,
            },
          ) &&
          await reclaimExpired(this.#core)
        ) continue;
        const decision = decide({
          ...this.#plan.cursorInput(this.#cursor(), this.#clock.takeNow()),
          overlapPolicy: job.overlapPolicy,
          activeRuns: this.#core.active.size,
          queued: this.#core.queued !== undefined,
        });
        if (decision !== undefined) {
          this.#core.state = {
            ...this.#core.state,
            triggerCount: decision.cursor.triggerCount,
            nextRunAt: dateOrNull(decision.cursor.nextRunAt),
          };
          // Saved before anything starts: at most one run per occurrence,
          // even across a crash.
          if (await this.#core.persist()) {
            const starting = carryOut(this.#core, decision);
            if (starting !== undefined) await starting;
          }
          continue;
        }
        if (lagging) continue; // nothing due at that instant: the next one
      }
      this.#clock.dropBurst();
      if (
        this.#core.state.nextRunAt === null && this.#core.active.size === 0 &&
        this.#core.queued === undefined
      ) {
        // At-least-once: a run another instance still holds may need us.
        const reclaimer = this.#core.delivery.reclaimer;
        if (reclaimer !== undefined && !control.paused) {
          if (await reclaimExpired(this.#core)) continue;
          if (reclaimer.open && !this.#core.stopping()) {
            await this.#waitForWork();
            continue;
          }
        }
        await deleteTerminalState(this.#effects, this.#core.state);
        return SchedulerStopReason.Terminal;
      }
      await this.#waitForWork();
    }
  }

  /** The state's occurrence cursor. */
  #cursor(): OccurrenceCursor {
    return {
      triggerCount: this.#core.state.triggerCount,
      nextRunAt: this.#core.state.nextRunAt?.getTime() ?? null,
    };
  }

  /** Sleeps until the next occurrence or until something changes. */
  #waitForWork(): Promise<void> {
    const { control, job } = this.#core.options;
    const next = this.#core.state.nextRunAt?.getTime();
    const canSleep = next !== undefined && !control.paused &&
      !decisionBlocked({
        missedRunPolicy: job.missedRunPolicy,
        overlapPolicy: job.overlapPolicy,
        activeRuns: this.#core.active.size,
        queued: this.#core.queued !== undefined,
      });
    if (canSleep) {
      this.#plan.resetTo(this.#cursor());
      this.#clock.armFor(this.controls.jitter.wakeInstant(next));
    } else {
      this.#clock.disarm();
    }
    return this.#core.wakeup.wait();
  }

  async #applyCompletions(): Promise<void> {
    while (this.#core.completions.length > 0) {
      const { run, record, failure, final, retry } = this.#core.completions
        .shift()!;
      if (final) this.#core.active.delete(run);
      this.#core.settled = false;
      if (failure !== undefined) {
        this.#core.fail(failure);
      } else if (record !== undefined) {
        ({ state: this.#core.state, newestStart: this.#core.newestStart } =
          recordCompletion(this.#core.state, record, this.#core.newestStart));
        this.#core.history.push(record);
        if (record.manual) {
          this.#core.manual.recorded(run.trigger, toRunRecord(record));
        }
        await this.#core.persist();
        if (this.listens("run-completed")) {
          this.dispatch(runCompletedEvent(this.jobId, record));
        }
        if (retry !== undefined && this.listens("run-retrying")) {
          this.dispatch(
            runRetryingEvent(this.jobId, run.trigger, {
              ...retry,
              error: record.error ?? "",
            }),
          );
        }
      }
      if (final) {
        this.#core.manual.over(
          run.trigger,
          failure === undefined
            ? TriggerNowErrorKind.Stopping
            : TriggerNowErrorKind.Failed,
          failure,
        );
      }
    }
  }

  /**
   * Starts a manual run now (or queues it, under `queue-one`), outside the
   * schedule; resolves with the record of its last attempt.
   */
  triggerNow(options?: TriggerNowOptions): Promise<RunRecord> {
    if (this.#core.state === undefined) {
      // Called while the state loads: wait for it (a failed load fails it).
      return this.#core.loaded.then(() => {
        if (this.#core.state === undefined) {
          throw triggerNowError(this.jobId, TriggerNowErrorKind.Failed);
        }
        return this.triggerNow(options);
      });
    }
    if (this.#core.fatal !== undefined) {
      return Promise.reject(
        triggerNowError(
          this.jobId,
          TriggerNowErrorKind.Failed,
          this.#core.fatal,
        ),
      );
    }
    const { control, job, config } = this.#core.options;
    let planned: ReturnType<typeof planManualRun>;
    try {
      planned = planManualRun(options, {
        job,
        zone: config,
        state: this.#core.state,
        activeRuns: this.#core.active.size,
        queued: this.#core.queued !== undefined,
        paused: control.paused,
        stopping: this.#core.stopping(),
      });
    } catch (error) {
      return Promise.reject(error);
    }
    const { trigger, action } = planned;
    const promise = this.#core.manual.add(trigger);
    if (action === "queue") {
      this.#core.queued = trigger;
      this.#core.wakeup.notify();
    } else {
      // Active from now on, so that the overlap policy and stopping see it
      // while the guard is asked.
      const run = new ActiveRun(trigger);
      this.#core.active.add(run);
      startRun(this.#core, trigger, run);
    }
    return promise;
  }
}
