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
  ExecutionGuardErrorKind,
  InvalidJobKind,
  RunStatus,
  SchedulerStopReason,
  StateLoadSource,
  StoreErrorKind,
  StoreOperation,
  TerminalStatePolicy,
} from "../constants.ts";
import {
  describeThrown,
  ExecutionGuardError,
  InvalidJobError,
  SchedulerError,
  StoreError,
} from "../errors.ts";
import type {
  ExecutionGuard,
  ExecutionGuardAcquire,
} from "../guard/execution_guard.ts";
import { MAX_DATE_MS } from "../schedule/_civil.ts";
import { firstOccurrence } from "../schedule/occurrences.ts";
import { sleepUntil } from "../schedule/sleep.ts";
import {
  copyJobState,
  type JobState,
  jobStateProblem,
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
import type { SchedulerEvent } from "./events.ts";
import type { Job } from "./job.ts";
import { RunHistory, type SchedulerReport } from "./report.ts";
import { ActiveRun, type RunHost, type RunOutcome } from "./run_execution.ts";

/** What the engine needs from its scheduler. */
export interface EngineOptions<D> {
  readonly job: Job<D>;
  readonly config: ResolvedConfig;
  readonly store: StateStore;
  readonly guard: ExecutionGuard;
  readonly control: ControlState;
  /** Emits an event, building it only if someone listens. */
  emit(type: SchedulerEvent["type"], build: () => SchedulerEvent): void;
}

/** A promise-based "something changed" flag that never loses a notify. */
class Wakeup {
  #resolve: (() => void) | undefined;
  #pending = false;

  notify(): void {
    const resolve = this.#resolve;
    if (resolve === undefined) {
      this.#pending = true;
      return;
    }
    this.#resolve = undefined;
    resolve();
  }

  wait(): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.#resolve = resolve));
  }
}

function toGuardError(error: unknown, jobId: string): ExecutionGuardError {
  if (error instanceof ExecutionGuardError) return error;
  return new ExecutionGuardError(
    `execution guard acquire failed for job ${JSON.stringify(jobId)}: ${
      describeThrown(error)
    }`,
    { kind: ExecutionGuardErrorKind.Unknown, cause: error },
  );
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
  readonly #options: EngineOptions<D>;
  readonly #history: RunHistory;
  readonly #active = new Set<ActiveRun>();
  readonly #completions: RunOutcome[] = [];
  readonly #wakeup = new Wakeup();
  #state!: JobState;
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
    this.guard = options.guard;
    this.#history = new RunHistory(options.config.historyLimit);
  }

  emit(type: SchedulerEvent["type"], build: () => SchedulerEvent): void {
    this.#options.emit(type, build);
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
    try {
      await this.#load();
      this.#onControl(); // a stop requested before run() applies now
      reason = await this.#loop();
    } catch (error) {
      this.#fatal ??= error instanceof SchedulerError
        ? error
        : new SchedulerError(describeThrown(error), { cause: error });
    }
    if (this.#fatal !== undefined) {
      const fatal = this.#fatal;
      this.emit("scheduler-stopped", () => ({
        type: "scheduler-stopped",
        jobId: this.jobId,
        triggerCount: this.#state?.triggerCount ?? 0,
        reason: SchedulerStopReason.Failed,
        error: fatal.message,
      }));
      throw fatal;
    }
    this.emit("scheduler-stopped", () => ({
      type: "scheduler-stopped",
      jobId: this.jobId,
      triggerCount: this.#state.triggerCount,
      reason,
    }));
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
    }
    this.#wakeup.notify();
  }

  #fail(error: SchedulerError): void {
    this.#fatal ??= error;
    this.#wakeup.notify();
  }

  async #loop(): Promise<SchedulerStopReason> {
    const { control, job, config } = this.#options;
    for (;;) {
      await this.#applyCompletions();
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
          await this.#start(queued);
          continue;
        }
        const decision = decide({
          schedule: job.schedule,
          maxRuns: job.maxRuns,
          missedRunPolicy: job.missedRunPolicy,
          overlapPolicy: job.overlapPolicy,
          missedRunToleranceMs: config.missedRunToleranceMs,
          timezone: config.timezone,
          dst: config.dst,
          cursor: {
            triggerCount: this.#state.triggerCount,
            nextRunAt: this.#state.nextRunAt?.getTime() ?? null,
          },
          now: Date.now(),
          activeRuns: this.#active.size,
          queued: this.#queued !== undefined,
        });
        if (decision !== undefined) {
          await this.#apply(decision);
          continue;
        }
      }
      if (
        this.#state.nextRunAt === null && this.#active.size === 0 &&
        this.#queued === undefined
      ) {
        await this.#terminate();
        return SchedulerStopReason.Terminal;
      }
      await this.#waitForWork();
    }
  }

  /** Sleeps until the next occurrence or until something changes. */
  async #waitForWork(): Promise<void> {
    const { control, job } = this.#options;
    const next = this.#state.nextRunAt?.getTime();
    const canSleep = next !== undefined && !control.paused &&
      !decisionBlocked({
        missedRunPolicy: job.missedRunPolicy,
        overlapPolicy: job.overlapPolicy,
        activeRuns: this.#active.size,
        queued: this.#queued !== undefined,
      });
    if (!canSleep) {
      await this.#wakeup.wait();
      return;
    }
    const sleeper = new AbortController();
    sleepUntil(next, sleeper.signal).then(
      () => this.#wakeup.notify(),
      () => {},
    );
    await this.#wakeup.wait();
    sleeper.abort();
  }

  async #load(): Promise<void> {
    const { store, job, config } = this.#options;
    let stored: JobState | undefined;
    try {
      stored = await store.load(this.jobId) ?? undefined;
    } catch (error) {
      throw toStoreError(error, StoreOperation.Load, this.jobId);
    }
    if (stored !== undefined) {
      const problem = jobStateProblem(stored) ??
        (stored.jobId === this.jobId
          ? undefined
          : `it belongs to job ${JSON.stringify(stored.jobId)}`);
      if (problem !== undefined) {
        throw new StoreError(
          `the store returned an invalid state for job ${
            JSON.stringify(this.jobId)
          }: ${problem}`,
          { kind: StoreErrorKind.Data, operation: StoreOperation.Load },
        );
      }
    }
    const now = Date.now();
    if (stored === undefined) {
      const next = firstOccurrence(job.schedule, {
        now,
        maxRuns: job.maxRuns,
        timezone: config.timezone,
        dst: config.dst,
      });
      this.#state = {
        jobId: this.jobId,
        triggerCount: 0,
        lastRunAt: null,
        lastSuccessAt: null,
        nextRunAt: dateOrNull(next),
        lastError: null,
      };
      this.#emitLoaded(StateLoadSource.New);
      await this.#save();
      return;
    }
    this.#state = copyJobState(stored);
    const repairable = stored.nextRunAt === null &&
      job.schedule.kind === "interval" &&
      (job.maxRuns === undefined || stored.triggerCount < job.maxRuns);
    if (!repairable) {
      this.#emitLoaded(StateLoadSource.Restored);
      return;
    }
    const repaired = now + (job.schedule as { everyMs: number }).everyMs;
    if (repaired > MAX_DATE_MS) {
      throw new InvalidJobError(
        `interval schedule of ${
          (job.schedule as { everyMs: number }).everyMs
        } ms is too large: the next run would be after the end of the Date range`,
        { kind: InvalidJobKind.IntervalOutOfRange },
      );
    }
    this.#state.nextRunAt = new Date(repaired);
    await this.#save();
    this.emit("state-repaired", () => ({
      type: "state-repaired",
      jobId: this.jobId,
      triggerCount: this.#state.triggerCount,
      previousNextRunAt: null,
      repairedNextRunAt: new Date(repaired),
    }));
    this.#emitLoaded(StateLoadSource.Repaired);
  }

  #emitLoaded(source: StateLoadSource): void {
    this.emit("state-loaded", () => ({
      type: "state-loaded",
      jobId: this.jobId,
      triggerCount: this.#state.triggerCount,
      nextRunAt: this.#state.nextRunAt && new Date(this.#state.nextRunAt),
      source,
    }));
  }

  async #save(): Promise<void> {
    try {
      await this.#options.store.save(copyJobState(this.#state));
    } catch (error) {
      throw toStoreError(error, StoreOperation.Save, this.jobId);
    }
  }

  /** Saves; a failure becomes the fatal error instead of a rejection. */
  async #saveOrFail(): Promise<boolean> {
    try {
      await this.#save();
      return true;
    } catch (error) {
      this.#fail(error as StoreError);
      return false;
    }
  }

  async #apply(decision: Decision): Promise<void> {
    this.#state.triggerCount = decision.cursor.triggerCount;
    this.#state.nextRunAt = dateOrNull(decision.cursor.nextRunAt);
    // Saved before anything starts: at most one run per occurrence, even
    // across a crash.
    if (!await this.#saveOrFail()) return;
    const { trigger, action } = decision;
    const dropped = action === "none" && trigger !== undefined;
    if (!dropped) this.#emitSkipped(decision);
    if (trigger !== undefined) {
      this.emit("trigger-emitted", () => ({
        type: "trigger-emitted",
        jobId: this.jobId,
        scheduledAt: new Date(trigger.scheduledAt),
        catchUp: trigger.catchUp,
        triggerCount: trigger.triggerCount,
      }));
    }
    if (dropped) this.#emitSkipped(decision);
    if (action === "start") await this.#start(trigger!);
    else if (action === "queue") this.#queued = trigger;
  }

  #emitSkipped(decision: Decision): void {
    const skipped = decision.skipped;
    if (skipped === undefined) return;
    this.emit("run-skipped", () => ({
      type: "run-skipped",
      jobId: this.jobId,
      scheduledAt: new Date(skipped.scheduledAt),
      triggerCount: decision.cursor.triggerCount,
      count: skipped.count,
      reason: skipped.reason,
    }));
  }

  /** Asks the guard for the trigger's slot and starts the run. */
  async #start(trigger: Trigger): Promise<void> {
    let answer: ExecutionGuardAcquire;
    try {
      answer = await this.guard.acquire({
        jobId: this.jobId,
        scheduledAt: new Date(trigger.scheduledAt),
      });
    } catch (error) {
      this.#fail(toGuardError(error, this.jobId));
      return;
    }
    if (answer?.kind === "contended") {
      this.emit("execution-guard-contended", () => ({
        type: "execution-guard-contended",
        jobId: this.jobId,
        scheduledAt: new Date(trigger.scheduledAt),
        catchUp: trigger.catchUp,
        triggerCount: trigger.triggerCount,
      }));
      return;
    }
    const lease = answer?.kind === "acquired" ? answer.lease : undefined;
    if (
      typeof lease !== "object" || lease === null ||
      typeof lease.token !== "string" || typeof lease.leaseKey !== "string"
    ) {
      this.#fail(
        new ExecutionGuardError(
          `execution guard acquire for job ${
            JSON.stringify(this.jobId)
          } answered neither "acquired" with a lease (token and leaseKey strings) nor "contended"`,
          { kind: ExecutionGuardErrorKind.Data },
        ),
      );
      return;
    }
    const run = new ActiveRun(trigger);
    this.#active.add(run);
    this.emit("run-started", () => ({
      type: "run-started",
      jobId: this.jobId,
      scheduledAt: new Date(trigger.scheduledAt),
      catchUp: trigger.catchUp,
      triggerCount: trigger.triggerCount,
      ...(lease.fencingToken === undefined
        ? {}
        : { fencingToken: lease.fencingToken }),
    }));
    const stop = this.#options.control.stop;
    // A cancel that arrived while the lease was being acquired.
    if (stop?.kind === "cancel") run.abort(stop.reason);
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
      const { run, record, failure } = this.#completions.shift()!;
      this.#active.delete(run);
      if (failure !== undefined) {
        this.#fail(failure);
        continue;
      }
      const startedAt = record.startedAt.getTime();
      if (startedAt >= this.#newestStart) {
        this.#newestStart = startedAt;
        this.#state.lastRunAt = new Date(startedAt);
        if (record.status === RunStatus.Success) {
          this.#state.lastSuccessAt = new Date(record.finishedAt);
          this.#state.lastError = null;
        } else if (record.status === RunStatus.Failed) {
          this.#state.lastError = record.error;
        }
      }
      this.#history.push(record);
      await this.#saveOrFail();
      this.emit("run-completed", () => ({
        type: "run-completed",
        jobId: this.jobId,
        scheduledAt: new Date(record.scheduledAt),
        catchUp: record.catchUp,
        triggerCount: record.triggerCount,
        status: record.status,
        error: record.error,
      }));
    }
  }

  async #terminate(): Promise<void> {
    const { config, store } = this.#options;
    if (config.terminalStatePolicy !== TerminalStatePolicy.Delete) return;
    try {
      await store.delete(this.jobId);
    } catch (error) {
      throw toStoreError(error, StoreOperation.Delete, this.jobId);
    }
    this.emit("terminal-state-deleted", () => ({
      type: "terminal-state-deleted",
      jobId: this.jobId,
      triggerCount: this.#state.triggerCount,
    }));
  }
}
