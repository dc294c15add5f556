/**
 * One run: its attempts (one, or more with retries) with their signals and
 * time limits, the lease renewal beside them, the release after the last,
 * and the record of each attempt.
 *
 * @module
 */

import {
  ExecutionGuardErrorKind,
  type OverlapPolicy,
  RunStatus,
} from "../../constants.ts";
import { MAX_TIMER_MS } from "../../schedule/sleep.ts";
import {
  describeThrown,
  ExecutionGuardError,
  isInstance,
  type SchedulerError,
} from "../../errors.ts";
import type {
  ExecutionGuard,
  ExecutionLease,
} from "../../guard/execution_guard.ts";
import {
  releaseFailedEvent,
  runStartedEvent,
  runTimedOutEvent,
  triggerEvent,
} from "./_event_details.ts";
import type { Trigger } from "../rules/_decide.ts";
import type { SchedulerEvent } from "../events/events.ts";
import type { CompletedRun } from "../events/report.ts";
import type { Task } from "../job/task.ts";
import { runContext } from "./_run_context.ts";
import { Attempt } from "./_attempt.ts";
import type { DeadlineWatch } from "./_deadlines.ts";
import type { Jitter } from "../job/_jitter.ts";
import type { AttemptTracer } from "../../telemetry/_attempt_span.ts";
import { backoffDelay, type RetryPolicy, shouldRetry } from "../job/retry.ts";
import { RetryWait } from "./_retry_wait.ts";

/**
 * What a run hands back to the engine: an attempt's record to apply, and
 * whether the run is over (its lease released). A run reports each attempt,
 * and reports `final` exactly once.
 */
export interface RunOutcome {
  readonly run: ActiveRun;
  /** The attempt's record, if one is to be applied. */
  readonly record?: CompletedRun;
  /** The run is over: it is no longer active. */
  readonly final: boolean;
  /** Set when another attempt follows: report `run-retrying` after `record`. */
  readonly retry?: { readonly attempt: number; readonly delayMs: number };
  /**
   * Set on the final record of a run that handed its lease over
   * (`RunHost.handsOffLease`): the engine ends the lease in the write that
   * saves the record.
   */
  readonly lease?: ExecutionLease;
  /**
   * Set when the run could not be carried out normally (a worker task
   * panicked, the guard misbehaved, a backoff function failed): `record` is
   * not applied and `run()` fails with this error.
   */
  readonly failure?: SchedulerError;
}

/** The job's run controls, as a run needs them. */
export interface RunControls {
  readonly runTimeoutMs: number | undefined;
  readonly retryPolicy: RetryPolicy | undefined;
  readonly overlapPolicy: OverlapPolicy;
  readonly jitter: Jitter;
  /** One timer for the time limits of every attempt (see _deadlines.ts). */
  readonly deadlines?: DeadlineWatch;
}

/** What a run needs from the engine that started it. */
export interface RunHost<D> {
  readonly jobId: string;
  readonly timezone: string;
  readonly deps: D;
  readonly task: Task<D>;
  readonly guard: ExecutionGuard;
  /** The guard is the single-instance one: nothing to release. */
  readonly trivialGuard: boolean;
  readonly controls: RunControls;
  /** Opens a span per attempt when tracing is registered. */
  readonly tracer?: AttemptTracer;
  /** When the job's next occurrence is due (jittered), or `null`. */
  nextDueAt(): number | null;
  /** Whether a stop was requested or `run()` is failing. */
  stopping(): boolean;
  /** Whether the scheduler is paused: no retry attempt starts. */
  paused(): boolean;
  /**
   * Ends the lease instead of `guard.release`, given how the run ended;
   * `undefined` (the method or its answer) means release as usual.
   */
  settleLease?(
    lease: ExecutionLease,
    status: RunStatus,
  ): Promise<void> | undefined;
  /**
   * Whether a run's final record takes its lease along: the engine then
   * ends the lease in the same write that saves the record (see
   * store/leased_writes.ts), instead of the run ending it first.
   */
  readonly handsOffLease?: boolean;
  /** Whether anyone wants events of `type`. */
  listens(type: SchedulerEvent["type"]): boolean;
  /** Delivers an event. */
  dispatch(event: SchedulerEvent): void;
  /** The lease was lost: stop the scheduler. */
  leaseLost(): void;
  /** An attempt was recorded, or the run is over (lease released). */
  complete(outcome: RunOutcome): void;
}

/** A guard failure that surfaced inside a run and must fail `run()`. */
class GuardMisbehaved extends Error {
  constructor(readonly error: ExecutionGuardError) {
    super(error.message);
  }
}

/** The abort reason of a run whose lease was lost. */
function leaseLostReason(): DOMException {
  return new DOMException("the execution lease was lost", "AbortError");
}

/** A run in flight: its attempts on one occurrence, under one lease. */
export class ActiveRun {
  readonly trigger: Trigger;
  #attempt = new Attempt();
  /** Set by `cancel()` or a lost lease: no attempt follows. */
  #stopped = false;
  #stopReason: unknown;
  /** The waits between attempts; created with the first backoff. */
  #wait: RetryWait | undefined;
  #interrupted = false;

  constructor(trigger: Trigger) {
    this.trigger = trigger;
  }

  /** The current attempt's signal. */
  get signal(): AbortSignal {
    return this.#attempt.signal;
  }

  /** Aborts the current attempt's signal; no further attempt is made. */
  abort(reason: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopReason = reason;
    this.#attempt.abort("stop", reason);
    this.interrupt();
  }

  /** Ends a backoff in progress: the scheduler is stopping. */
  interrupt(): void {
    this.#interrupted = true;
    this.#wait?.interrupt();
  }

  /** The scheduler resumed: a retry held by the pause starts now. */
  resumed(): void {
    this.#wait?.resumed();
  }

  /**
   * Runs the task under `lease`, retrying as the job says, and reports each
   * attempt to the host. Always reports `final` exactly once, whatever the
   * task or the guard do.
   */
  async execute<D>(host: RunHost<D>, lease: ExecutionLease): Promise<void> {
    let stopRenewal: (() => Promise<void>) | undefined;
    let failure: SchedulerError | undefined;
    try {
      stopRenewal = this.#renew(host, lease);
    } catch (thrown) {
      if (!isInstance(thrown, GuardMisbehaved)) throw thrown;
      failure = thrown.error;
    }
    // The last attempt's status, for a finish that carries no record.
    let lastStatus: RunStatus | undefined;
    const settle = async (outcome: Omit<RunOutcome, "run" | "final">) => {
      // Ended without any attempt (the guard misbehaved first): not run.
      const status = outcome.record?.status ?? lastStatus ??
        RunStatus.Cancelled;
      const handOff = host.handsOffLease === true &&
        outcome.record !== undefined && outcome.failure === undefined;
      try {
        if (stopRenewal !== undefined) await stopRenewal();
        if (!host.trivialGuard && !handOff) {
          await (host.settleLease?.(lease, status) ??
            host.guard.release(lease));
        }
      } catch (thrown) {
        if (host.listens("execution-guard-release-failed")) {
          host.dispatch(
            releaseFailedEvent(host.jobId, this.trigger, thrown),
          );
        }
      }
      host.complete(
        handOff
          ? { ...outcome, run: this, final: true, lease }
          : { ...outcome, run: this, final: true },
      );
    };
    // Nothing to stop or release (the single-instance guard): complete at
    // once, without the promise hops of `settle`.
    const finish = (
      outcome: Omit<RunOutcome, "run" | "final">,
    ): Promise<void> | undefined => {
      if (stopRenewal !== undefined || !host.trivialGuard) {
        return settle(outcome);
      }
      host.complete({ ...outcome, run: this, final: true });
      return undefined;
    };
    if (failure !== undefined) return await finish({ failure });
    const { trigger } = this;
    const { controls } = host;
    const jitterMs = trigger.manual ? 0 : controls.jitter.delay(
      trigger.scheduledAt,
    );
    for (let attempt = 1;; attempt++) {
      if (attempt > 1) {
        this.#attempt = new Attempt();
        if (this.#stopped) this.#attempt.abort("stop", this.#stopReason);
        if (host.listens("run-started")) {
          host.dispatch(
            runStartedEvent(host.jobId, trigger, {
              fencingToken: lease.fencingToken,
              attempt,
            }),
          );
        }
      }
      const result = await this.#attempt.execute({
        task: host.task,
        deps: host.deps,
        run: runContext({ host, trigger, lease, attempt, jitterMs }),
        timeoutMs: controls.runTimeoutMs,
        tracer: host.tracer,
        deadlines: controls.deadlines,
        onTimeout: () => {
          if (host.listens("run-timed-out")) {
            host.dispatch(
              runTimedOutEvent(host.jobId, trigger, {
                attempt,
                timeoutMs: controls.runTimeoutMs!,
              }),
            );
          }
        },
      });
      const record: CompletedRun = {
        scheduledAt: trigger.scheduledAt,
        startedAt: result.startedAt,
        finishedAt: result.finishedAt,
        catchUp: trigger.catchUp,
        triggerCount: trigger.triggerCount,
        status: result.status,
        error: result.error,
        attempt,
        manual: trigger.manual === true,
        replayed: trigger.replayed === true,
      };
      lastStatus = result.status;
      if (result.panic !== undefined) {
        return await finish({ record, failure: result.panic });
      }
      const policy = controls.retryPolicy;
      if (
        policy === undefined || attempt >= policy.attempts ||
        (result.status !== RunStatus.Failed &&
          result.status !== RunStatus.TimedOut)
      ) {
        const finishing = finish({ record });
        if (finishing !== undefined) await finishing;
        return;
      }
      let delayMs: number;
      try {
        delayMs = backoffDelay(policy, attempt + 1, host.jobId);
      } catch (thrown) {
        host.complete({ run: this, record, final: false });
        return await finish({ failure: thrown as SchedulerError });
      }
      const retry = shouldRetry({
        policy,
        attempt,
        status: result.status,
        delayMs,
        now: Date.now(),
        nextDueAt: host.nextDueAt(),
        overlapPolicy: controls.overlapPolicy,
        stopping: this.#stopped || host.stopping(),
      });
      if (!retry) return await finish({ record });
      host.complete({
        run: this,
        record,
        final: false,
        retry: { attempt: attempt + 1, delayMs },
      });
      this.#wait ??= new RetryWait();
      if (this.#interrupted) this.#wait.interrupt();
      // The backoff, then a pause, if any, until resume() (the lease stays
      // renewed throughout: docs/run_controls.md, "Retries").
      if (!await this.#wait.wait(Date.now() + delayMs, () => host.paused())) {
        // Stopping: the last attempt's record stands. A cancel or a lost
        // lease gives the occurrence back (at-least-once replays it), as it
        // does when it interrupts an attempt; a shutdown completes it.
        if (this.#stopped) lastStatus = RunStatus.Cancelled;
        return await finish({});
      }
    }
  }

  /**
   * Renews the lease every `renewIntervalMs(lease)` while the task runs.
   * Returns a function that stops renewing and waits for a renewal in flight,
   * so the lease is never renewed after it was released.
   */
  #renew<D>(
    host: RunHost<D>,
    lease: ExecutionLease,
  ): (() => Promise<void>) | undefined {
    let every: number | undefined;
    try {
      every = host.guard.renewIntervalMs?.(lease);
    } catch (thrown) {
      throw new GuardMisbehaved(
        new ExecutionGuardError(
          `execution guard renewIntervalMs failed for job ${
            JSON.stringify(host.jobId)
          }: ${describeThrown(thrown)}`,
          { kind: ExecutionGuardErrorKind.Unknown, cause: thrown },
        ),
      );
    }
    if (typeof every !== "number" || !(every > 0) || !Number.isFinite(every)) {
      return undefined;
    }
    // Renewing earlier than asked is harmless; a timer beyond an hour is not
    // armed anywhere (delays above 2^31-1 ms fire at once).
    every = Math.min(every, MAX_TIMER_MS);
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight: Promise<void> = Promise.resolve();
    const renewOnce = async () => {
      let renewal: string;
      try {
        renewal = await host.guard.renew(lease);
      } catch {
        renewal = "lost"; // a renewal error means the lease can't be trusted
      }
      if (stopped) return;
      if (renewal === "renewed") {
        timer = setTimeout(tick, every);
        return;
      }
      const { trigger } = this;
      if (host.listens("execution-guard-lost")) {
        host.dispatch(
          triggerEvent("execution-guard-lost", host.jobId, trigger),
        );
      }
      this.abort(leaseLostReason());
      host.leaseLost();
    };
    const tick = () => {
      timer = undefined;
      inFlight = renewOnce();
    };
    timer = setTimeout(tick, every);
    return async () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await inFlight;
    };
  }
}
