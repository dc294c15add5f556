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
  StoreOperation,
  TriggerNowErrorKind,
} from "../constants.ts";
import { describeThrown, isInstance, SchedulerError } from "../errors.ts";
import {
  type ExecutionGuard,
  type ExecutionLease,
  NoopExecutionGuard,
} from "../guard/execution_guard.ts";
import {
  copyJobState,
  type JobState,
  withDefinition,
} from "../store/job_state.ts";
import { type StateStore, toStoreError } from "../store/state_store.ts";
import type { ResolvedConfig } from "./config.ts";
import type { ControlState } from "./control.ts";
import {
  decide,
  type Decision,
  decisionBlocked,
  type Trigger,
} from "./decide.ts";
import type { OccurrenceCursor } from "../schedule/_occurrences.ts";
import type { SchedulerEvent } from "./events.ts";
import type { Job } from "./job.ts";
import {
  RunHistory,
  type RunRecord,
  type SchedulerReport,
  toRunRecord,
} from "./report.ts";
import {
  ActiveRun,
  type RunControls,
  type RunHost,
  type RunOutcome,
} from "./run_execution.ts";
import { Jitter } from "./jitter.ts";
import {
  ManualRequests,
  overlapAfterManual,
  planManualRun,
  triggerNowError,
  type TriggerNowOptions,
} from "./manual.ts";
import {
  deleteTerminalState,
  loadJobState,
  type StateEffectsHost,
} from "./_state_effects.ts";
import { WakePlan } from "./_wake_plan.ts";
import { recordCompletion } from "./completion.ts";
import {
  runCompletedEvent,
  runRetryingEvent,
  runStartedEvent,
  triggerEvent,
} from "./_event_details.ts";
import { Wakeup } from "./_wakeup.ts";
import { nextMacrotask, WakeClock } from "./_wake_clock.ts";
import { acquireSlot, toGuardError } from "./_acquire.ts";
import { deliveryFor, type Reclaimed } from "./reclaim.ts";
import { definitionFingerprint } from "./fingerprint.ts";

/** What the engine needs from its scheduler. */
export interface EngineOptions<D> {
  readonly job: Job<D>;
  readonly config: ResolvedConfig;
  readonly store: StateStore;
  readonly guard: ExecutionGuard;
  readonly control: ControlState;
  /** Whether anyone (listener or observer) wants events of `type`. */
  listens(type: SchedulerEvent["type"]): boolean;
  /** Delivers an event to the observer and the listeners. */
  dispatch(event: SchedulerEvent): void;
  /**
   * Frees the scheduler for its next `run()`; called just before
   * `scheduler-stopped` is dispatched, so its listeners may start one.
   */
  finish(): void;
}

function dateOrNull(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

/** Runs one job until it is exhausted, stopped, or fails. */
export class JobRun<D> implements RunHost<D> {
  readonly jobId: string;
  readonly timezone: string;
  readonly deps: D;
  readonly task: Job<D>["task"];
  readonly guard: ExecutionGuard;
  readonly trivialGuard: boolean;
  readonly controls: RunControls;
  readonly #options: EngineOptions<D>;
  readonly #manual: ManualRequests;
  /** Settles when the state is loaded (or failed to load). */
  #markLoaded!: () => void;
  // Not Promise.withResolvers: the core also runs on Node 20.
  readonly #loaded = new Promise<void>((
    resolve,
  ) => (this.#markLoaded = resolve));
  readonly #history: RunHistory;
  readonly #active = new Set<ActiveRun>();
  readonly #completions: RunOutcome[] = [];
  readonly #wakeup = new Wakeup();
  /** At-least-once bookkeeping (see reclaim.ts); none for at-most-once. */
  readonly #delivery: ReturnType<typeof deliveryFor>;
  /** The job definition's fingerprint, saved with every state. */
  readonly #definition: string;
  readonly #plan: WakePlan<D>;
  readonly #clock = new WakeClock({
    predictNext: (firedAt) => this.#plan.predictNext(firedAt),
    wake: () => this.#wakeup.notify(),
  });
  readonly #effects: StateEffectsHost<D>;
  /**
   * Whether runs were given a macrotask to finish since the last burst
   * instant was taken or the last run started or completed.
   */
  #settled = false;
  /**
   * The current state. Never mutated: each change makes a new object, so it
   * can be handed to the store without a defensive copy.
   */
  #state!: Readonly<JobState>;
  #queued: Trigger | undefined;
  #fatal: SchedulerError | undefined;
  /** Start of the newest run recorded so far, so parallel runs never move
   * `lastRunAt` backwards. */
  #newestStart = -Infinity;

  constructor(options: EngineOptions<D>) {
    this.#options = options;
    this.jobId = options.job.jobId;
    this.timezone = options.config.timezone;
    this.deps = options.job.deps;
    this.task = options.job.task;
    this.#delivery = deliveryFor(
      options.job,
      options.guard,
      () => this.#wakeup.notify(),
    );
    this.guard = this.#delivery.reclaimer?.wrap(options.guard) ??
      options.guard;
    this.trivialGuard = this.#delivery.reclaimer === undefined &&
      Object.getPrototypeOf(options.guard) === NoopExecutionGuard.prototype;
    this.#history = new RunHistory(options.config.historyLimit);
    this.#definition = definitionFingerprint({
      ...options.job,
      ...options.config,
    });
    const { job } = options;
    this.controls = {
      runTimeoutMs: job.runTimeoutMs,
      retryPolicy: job.retryPolicy,
      overlapPolicy: job.overlapPolicy,
      jitter: new Jitter(job.jobId, job.jitterMaxMs),
    };
    this.#manual = new ManualRequests(job.jobId);
    this.#plan = new WakePlan(job, options.config, this.controls.jitter);
    this.#effects = {
      jobId: this.jobId,
      job,
      config: options.config,
      store: options.store,
      definition: this.#definition,
      listens: (type) => this.listens(type),
      dispatch: (event) => this.dispatch(event),
      adopt: (state) => this.#state = state,
    };
  }

  nextDueAt(): number | null {
    const next = this.#state.nextRunAt;
    return next === null
      ? null
      : this.controls.jitter.wakeInstant(next.getTime());
  }

  stopping(): boolean {
    return this.#stopping();
  }

  listens(type: SchedulerEvent["type"]): boolean {
    return this.#options.listens(type);
  }

  dispatch(event: SchedulerEvent): void {
    this.#options.dispatch(event);
  }

  settleLease(
    lease: ExecutionLease,
    status: RunStatus,
  ): Promise<void> | undefined {
    return this.#delivery.reclaimer?.settle(lease, status);
  }

  leaseLost(): void {
    this.#options.control.shutdown();
  }

  complete(outcome: RunOutcome): void {
    this.#completions.push(outcome);
    this.#wakeup.notify();
  }

  /** Runs the job; resolves with the report or rejects with a SchedulerError. */
  async run(): Promise<SchedulerReport> {
    const { control } = this.#options;
    control.attach(() => this.#onControl());
    let reason: SchedulerStopReason = SchedulerStopReason.Failed;
    // A timer is pending from the first moment, so a fake clock's
    // `runAllAsync()` called right after `run()` does not find an empty timer
    // queue (and return) while the state is still loading. Arming the first
    // real wake-up replaces it.
    this.#clock.armFor(Date.now());
    try {
      control.attachTrigger((options) => this.triggerNow(options));
      if (this.#delivery.error !== undefined) throw this.#delivery.error;
      await loadJobState(this.#effects).finally(() => this.#markLoaded());
      this.#onControl(); // a stop requested before run() applies now
      reason = await this.#loop();
    } catch (error) {
      this.#fatal ??= isInstance(error, SchedulerError)
        ? error
        : new SchedulerError(describeThrown(error), { cause: error });
    }
    this.#clock.disarm();
    // Manual runs queued but never started, or still being acquired.
    this.#manual.endAll(
      this.#fatal === undefined
        ? TriggerNowErrorKind.Stopping
        : TriggerNowErrorKind.Failed,
      this.#fatal,
    );
    this.#delivery.reclaimer?.dispose();
    this.#options.finish();
    if (this.#fatal !== undefined) {
      const fatal = this.#fatal;
      if (this.listens("scheduler-stopped")) {
        this.dispatch({
          type: "scheduler-stopped",
          jobId: this.jobId,
          triggerCount: this.#state?.triggerCount ?? 0,
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
        triggerCount: this.#state.triggerCount,
        reason,
      });
    }
    return {
      jobId: this.jobId,
      state: copyJobState(this.#state),
      history: this.#history.toArray(),
      stopReason: reason,
    };
  }

  /** A control change: wake the loop; a cancel also aborts running tasks. */
  #onControl(): void {
    const stop = this.#options.control.stop;
    if (stop?.kind === "cancel") {
      for (const run of this.#active) run.abort(stop.reason);
    } else if (stop !== undefined) {
      for (const run of this.#active) run.interrupt(); // no further retries
    }
    this.#wakeup.notify();
  }

  /** Whether a stop was requested or a fatal error occurred. */
  #stopping(): boolean {
    return this.#fatal !== undefined ||
      this.#options.control.stop !== undefined;
  }

  #fail(error: SchedulerError): void {
    this.#fatal ??= error;
    for (const run of this.#active) run.interrupt(); // no further retries
    this.#wakeup.notify();
  }

  async #loop(): Promise<SchedulerStopReason> {
    const { control, job } = this.#options;
    for (;;) {
      if (this.#completions.length > 0) await this.#applyCompletions();
      const stop = control.stop;
      if (this.#fatal !== undefined || stop !== undefined) {
        if (this.#active.size === 0) {
          if (this.#fatal !== undefined) return SchedulerStopReason.Failed;
          return stop!.kind === "cancel"
            ? SchedulerStopReason.Cancelled
            : SchedulerStopReason.Shutdown;
        }
        await this.#wakeup.wait();
        continue;
      }
      if (!control.paused) {
        if (this.#active.size === 0 && this.#queued !== undefined) {
          const queued = this.#queued;
          this.#queued = undefined;
          const starting = this.#start(queued);
          if (starting !== undefined) await starting;
          continue;
        }
        const lagging = this.#clock.lagging;
        if (lagging && this.#active.size > 0 && !this.#settled) {
          // Timers fired in one synchronous burst (a fake clock): let the
          // runs started at an earlier instant finish, as they could have
          // between two real timers, before deciding at the next instant.
          this.#settled = true;
          await nextMacrotask();
          continue;
        }
        this.#settled = false;
        if (
          this.#delivery.reclaimer?.shouldCheck(this.#state.nextRunAt, {
            activeRuns: this.#active.size,
            queued: this.#queued !== undefined,
          }) &&
          await this.#reclaim()
        ) continue;
        const decision = decide({
          ...this.#plan.cursorInput(this.#cursor(), this.#clock.takeNow()),
          overlapPolicy: job.overlapPolicy,
          activeRuns: this.#active.size,
          queued: this.#queued !== undefined,
        });
        if (decision !== undefined) {
          this.#state = {
            ...this.#state,
            triggerCount: decision.cursor.triggerCount,
            nextRunAt: dateOrNull(decision.cursor.nextRunAt),
          };
          // Saved before anything starts: at most one run per occurrence,
          // even across a crash.
          if (await this.#persist()) {
            const starting = this.#carryOut(decision);
            if (starting !== undefined) await starting;
          }
          continue;
        }
        if (lagging) continue; // nothing due at that instant: the next one
      }
      this.#clock.dropBurst();
      if (
        this.#state.nextRunAt === null && this.#active.size === 0 &&
        this.#queued === undefined
      ) {
        // At-least-once: a run another instance still holds may need us.
        const reclaimer = this.#delivery.reclaimer;
        if (reclaimer !== undefined && !control.paused) {
          if (await this.#reclaim()) continue;
          if (reclaimer.open && !this.#stopping()) {
            await this.#waitForWork();
            continue;
          }
        }
        await deleteTerminalState(this.#effects, this.#state);
        return SchedulerStopReason.Terminal;
      }
      await this.#waitForWork();
    }
  }

  /** The state's occurrence cursor. */
  #cursor(): OccurrenceCursor {
    return {
      triggerCount: this.#state.triggerCount,
      nextRunAt: this.#state.nextRunAt?.getTime() ?? null,
    };
  }

  /** Sleeps until the next occurrence or until something changes. */
  #waitForWork(): Promise<void> {
    const { control, job } = this.#options;
    const next = this.#state.nextRunAt?.getTime();
    const canSleep = next !== undefined && !control.paused &&
      !decisionBlocked({
        missedRunPolicy: job.missedRunPolicy,
        overlapPolicy: job.overlapPolicy,
        activeRuns: this.#active.size,
        queued: this.#queued !== undefined,
      });
    if (canSleep) {
      this.#plan.resetTo(this.#cursor());
      this.#clock.armFor(this.controls.jitter.wakeInstant(next));
    } else {
      this.#clock.disarm();
    }
    return this.#wakeup.wait();
  }

  /**
   * Saves the current state; a failure becomes the fatal error. Resolves
   * whether it was saved. (One promise hop: this is on every run's path.)
   */
  #persist(): Promise<boolean> {
    let saving: Promise<void>;
    try {
      saving = this.#options.store.save(
        withDefinition(this.#state, this.#definition),
      );
    } catch (error) {
      this.#fail(toStoreError(error, StoreOperation.Save, this.jobId));
      return Promise.resolve(false);
    }
    return Promise.resolve(saving).then(() => true, (error) => {
      this.#fail(toStoreError(error, StoreOperation.Save, this.jobId));
      return false;
    });
  }

  /**
   * Reports a saved decision and starts or queues its trigger; returns a
   * promise only when starting has to wait for the guard.
   */
  #carryOut(saved: Decision): Promise<void> | undefined {
    const decision = overlapAfterManual(saved, {
      overlapPolicy: this.#options.job.overlapPolicy,
      activeRuns: this.#active.size,
      queued: this.#queued !== undefined,
    });
    const { trigger } = decision;
    let action = decision.action;
    // The save may have let a stop or a pause in: nothing new starts then.
    // A paused trigger waits in the queue for resume(); a stopped one is
    // consumed without a run, like a queued trigger discarded at a stop.
    if (action === "start" && this.#stopping()) action = "none";
    else if (action === "start" && this.#options.control.paused) {
      action = "queue";
    }
    const dropped = decision.action === "none" && trigger !== undefined;
    if (!dropped) this.#emitSkipped(decision);
    if (trigger !== undefined && this.listens("trigger-emitted")) {
      this.dispatch(triggerEvent("trigger-emitted", this.jobId, trigger));
    }
    if (dropped) this.#emitSkipped(decision);
    if (action === "start") return this.#start(trigger!);
    if (action === "queue") this.#queued = trigger;
    return undefined;
  }

  #emitSkipped(decision: Decision): void {
    const skipped = decision.skipped;
    if (skipped === undefined) return;
    if (this.listens("run-skipped")) {
      this.dispatch({
        type: "run-skipped",
        jobId: this.jobId,
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
  #start(trigger: Trigger, run?: ActiveRun): Promise<void> | undefined {
    if (this.trivialGuard) {
      this.#launch(trigger, this.#trivialLease(trigger), run);
      return undefined;
    }
    return this.#acquireAndLaunch(trigger, run);
  }

  #trivialLease(trigger: Trigger): ExecutionLease {
    return {
      jobId: this.jobId,
      scheduledAt: new Date(trigger.scheduledAt),
      token: "",
      leaseKey: "",
    };
  }

  /**
   * Acquires the slot and launches the run (`run`, when it was already
   * counted as active); when nothing launches, `run` is completed without a
   * record and a manual request learns why.
   */
  async #acquireAndLaunch(trigger: Trigger, run?: ActiveRun): Promise<void> {
    const reclaimer = this.#delivery.reclaimer;
    const lease = await acquireSlot({
      jobId: this.jobId,
      guard: this.guard,
      // At-least-once occurrences are granted with their in-flight record;
      // a manual run is not an occurrence and has none.
      acquire: reclaimer === undefined || trigger.manual
        ? undefined
        : (slotTrigger) => reclaimer.acquire(slotTrigger),
      listens: (type) => this.listens(type),
      dispatch: (event) => this.dispatch(event),
      stopping: () => this.#stopping(),
      fail: (error) => this.#fail(error),
    }, trigger);
    if (typeof lease === "object") {
      this.#launch(trigger, lease, run);
      return;
    }
    this.#manual.over(trigger, lease);
    if (run !== undefined) this.complete({ run, final: true });
  }

  /**
   * Reclaims the expired in-flight records `planReclaim` picks and starts
   * them; whether anything started (or failed), so the loop looks again.
   */
  async #reclaim(): Promise<boolean> {
    let reclaimed: Reclaimed[];
    try {
      reclaimed = await this.#delivery.reclaimer!.check({
        activeRuns: this.#active.size,
        queued: this.#queued !== undefined,
        stopping: () => this.#stopping(),
      });
    } catch (error) {
      this.#fail(toGuardError(error, this.jobId));
      return true;
    }
    for (const { trigger, lease, event } of reclaimed) {
      if (this.listens("run-reclaimed")) this.dispatch(event);
      this.#launch(trigger, lease);
    }
    return reclaimed.length > 0;
  }

  /** Starts a run that holds `lease`. */
  #launch(
    trigger: Trigger,
    lease: ExecutionLease,
    run: ActiveRun = new ActiveRun(trigger),
  ): void {
    this.#active.add(run);
    this.#settled = false;
    if (this.listens("run-started")) {
      this.dispatch(
        runStartedEvent(this.jobId, trigger, {
          fencingToken: lease.fencingToken,
          attempt: 1,
        }),
      );
    }
    run.execute(this, lease).catch((error) => {
      // execute() reports exactly once by design; this only keeps a bug in
      // it from leaving run() waiting for a run that will never complete.
      this.#active.delete(run);
      this.#fail(
        new SchedulerError(
          `internal error while running job ${JSON.stringify(this.jobId)}: ${
            describeThrown(error)
          }`,
          { cause: error },
        ),
      );
    });
  }

  async #applyCompletions(): Promise<void> {
    while (this.#completions.length > 0) {
      const { run, record, failure, final, retry } = this.#completions.shift()!;
      if (final) this.#active.delete(run);
      this.#settled = false;
      if (failure !== undefined) {
        this.#fail(failure);
      } else if (record !== undefined) {
        ({ state: this.#state, newestStart: this.#newestStart } =
          recordCompletion(this.#state, record, this.#newestStart));
        this.#history.push(record);
        if (record.manual) {
          this.#manual.recorded(run.trigger, toRunRecord(record));
        }
        await this.#persist();
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
        this.#manual.over(
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
    if (this.#state === undefined) {
      // Called while the state loads: wait for it (a failed load fails it).
      return this.#loaded.then(() => {
        if (this.#state === undefined) {
          throw triggerNowError(this.jobId, TriggerNowErrorKind.Failed);
        }
        return this.triggerNow(options);
      });
    }
    if (this.#fatal !== undefined) {
      return Promise.reject(
        triggerNowError(this.jobId, TriggerNowErrorKind.Failed, this.#fatal),
      );
    }
    const { control, job, config } = this.#options;
    let planned: ReturnType<typeof planManualRun>;
    try {
      planned = planManualRun(options, {
        job,
        zone: config,
        state: this.#state,
        activeRuns: this.#active.size,
        queued: this.#queued !== undefined,
        paused: control.paused,
        stopping: this.#stopping(),
      });
    } catch (error) {
      return Promise.reject(error);
    }
    const { trigger, action } = planned;
    const promise = this.#manual.add(trigger);
    if (action === "queue") {
      this.#queued = trigger;
      this.#wakeup.notify();
    } else {
      // Active from now on, so that the overlap policy and stopping see it
      // while the guard is asked.
      const run = new ActiveRun(trigger);
      this.#active.add(run);
      this.#start(trigger, run);
    }
    return promise;
  }
}
