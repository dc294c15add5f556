/**
 * One run: the task with its signal, the lease renewal beside it, the release
 * after it, and the record of how it went.
 *
 * @module
 */

import { ExecutionGuardErrorKind, RunStatus } from "../constants.ts";
import { MAX_TIMER_MS } from "../schedule/sleep.ts";
import {
  describeThrown,
  ExecutionGuardError,
  recordedError,
  type SchedulerError,
  TaskJoinError,
} from "../errors.ts";
import type {
  ExecutionGuard,
  ExecutionLease,
} from "../guard/execution_guard.ts";
import { releaseFailedEvent, triggerEvent } from "./_event_details.ts";
import type { Trigger } from "./decide.ts";
import type { SchedulerEvent } from "./events.ts";
import type { CompletedRun } from "./report.ts";
import {
  type RunContext,
  runTask,
  type Task,
  type TaskContext,
} from "./task.ts";

/** How a run ended, handed back to the engine. */
export interface RunOutcome {
  readonly run: ActiveRun;
  readonly record: CompletedRun;
  /**
   * Set when the run could not be carried out normally (a worker task
   * panicked, or the guard misbehaved): the run is not recorded and `run()`
   * fails with this error.
   */
  readonly failure?: SchedulerError;
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
  /**
   * Ends the lease instead of `guard.release`, given how the run ended;
   * `undefined` (the method or its answer) means release as usual.
   */
  settleLease?(
    lease: ExecutionLease,
    status: RunStatus,
  ): Promise<void> | undefined;
  /** Whether anyone wants events of `type`. */
  listens(type: SchedulerEvent["type"]): boolean;
  /** Delivers an event. */
  dispatch(event: SchedulerEvent): void;
  /** The lease was lost: stop the scheduler. */
  leaseLost(): void;
  /** The run is over (task settled, lease released). */
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

/**
 * A task's context whose signal is only created when the task asks for it.
 * `signal` is an own, enumerable getter, so `{ ...ctx }` keeps it.
 */
function taskContext<D>(
  run: RunContext,
  deps: D,
  owner: ActiveRun,
): TaskContext<D> {
  return Object.defineProperty({ run, deps }, "signal", {
    get: () => owner.signal,
    enumerable: true,
  }) as TaskContext<D>;
}

/** A run in flight. */
export class ActiveRun {
  readonly trigger: Trigger;
  /** Created on first use: most tasks never look at their signal. */
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  constructor(trigger: Trigger) {
    this.trigger = trigger;
  }

  /** The task's signal. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether the task's signal was aborted. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Aborts the task's signal (once). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /**
   * Runs the task under `lease` and reports the outcome to the host. Always
   * reports exactly once, whatever the task or the guard do.
   */
  async execute<D>(host: RunHost<D>, lease: ExecutionLease): Promise<void> {
    const { trigger } = this;
    const startedAt = Date.now();
    let status: RunStatus = RunStatus.Success;
    let error: string | null = null;
    let failure: SchedulerError | undefined;
    let stopRenewal: (() => Promise<void>) | undefined;
    try {
      stopRenewal = this.#renew(host, lease);
      const run: RunContext = {
        jobId: host.jobId,
        scheduledAt: new Date(trigger.scheduledAt),
        catchUp: trigger.catchUp,
        timezone: host.timezone,
        triggerCount: trigger.triggerCount,
        ...(lease.fencingToken === undefined
          ? {}
          : { fencingToken: lease.fencingToken }),
        ...(trigger.replayed ? { replayed: true } : {}),
      };
      await runTask(host.task, taskContext(run, host.deps, this));
    } catch (thrown) {
      if (host.task.kind === "worker" && thrown instanceof TaskJoinError) {
        failure = thrown;
      } else if (thrown instanceof GuardMisbehaved) {
        failure = thrown.error;
      }
      status = this.#aborted ? RunStatus.Cancelled : RunStatus.Failed;
      error = recordedError(thrown);
    }
    const finishedAt = Date.now();
    try {
      if (stopRenewal !== undefined) await stopRenewal();
      if (!host.trivialGuard) {
        await (host.settleLease?.(lease, status) ?? host.guard.release(lease));
      }
    } catch (thrown) {
      if (host.listens("execution-guard-release-failed")) {
        host.dispatch(
          releaseFailedEvent(host.jobId, trigger, describeThrown(thrown)),
        );
      }
    }
    host.complete({
      run: this,
      failure,
      record: {
        scheduledAt: trigger.scheduledAt,
        startedAt,
        finishedAt,
        catchUp: trigger.catchUp,
        triggerCount: trigger.triggerCount,
        status,
        error,
      },
    });
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
