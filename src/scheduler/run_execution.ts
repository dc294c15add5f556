/**
 * One run: the task with its signal, the lease renewal beside it, the release
 * after it, and the record of how it went.
 *
 * @module
 */

import { ExecutionGuardErrorKind, RunStatus } from "../constants.ts";
import {
  describeThrown,
  ExecutionGuardError,
  type SchedulerError,
  TaskJoinError,
} from "../errors.ts";
import type {
  ExecutionGuard,
  ExecutionLease,
} from "../guard/execution_guard.ts";
import type { Trigger } from "./decide.ts";
import type { SchedulerEvent } from "./events.ts";
import type { RunRecord } from "./report.ts";
import { type RunContext, runTask, type Task } from "./task.ts";

/** How a run ended, handed back to the engine. */
export interface RunOutcome {
  readonly run: ActiveRun;
  readonly record: RunRecord;
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
  /** Emits an event (built only if someone listens). */
  emit(type: SchedulerEvent["type"], build: () => SchedulerEvent): void;
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

/** A run in flight. */
export class ActiveRun {
  readonly trigger: Trigger;
  readonly #controller = new AbortController();

  constructor(trigger: Trigger) {
    this.trigger = trigger;
  }

  /** Aborts the task's signal (once). */
  abort(reason: unknown): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /**
   * Runs the task under `lease` and reports the outcome to the host. Always
   * reports exactly once, whatever the task or the guard do.
   */
  async execute<D>(host: RunHost<D>, lease: ExecutionLease): Promise<void> {
    const { trigger } = this;
    const signal = this.#controller.signal;
    const startedAt = Date.now();
    let status: RunStatus = RunStatus.Success;
    let error: string | null = null;
    let failure: SchedulerError | undefined;
    let stopRenewal = () => Promise.resolve();
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
      };
      await runTask(host.task, { run, deps: host.deps, signal });
    } catch (thrown) {
      if (host.task.kind === "worker" && thrown instanceof TaskJoinError) {
        failure = thrown;
      } else if (thrown instanceof GuardMisbehaved) {
        failure = thrown.error;
      }
      status = signal.aborted ? RunStatus.Cancelled : RunStatus.Failed;
      error = describeThrown(thrown);
    }
    const finishedAt = Date.now();
    try {
      await stopRenewal();
      await host.guard.release(lease);
    } catch (thrown) {
      host.emit("execution-guard-release-failed", () => ({
        type: "execution-guard-release-failed",
        jobId: host.jobId,
        scheduledAt: new Date(trigger.scheduledAt),
        catchUp: trigger.catchUp,
        triggerCount: trigger.triggerCount,
        error: describeThrown(thrown),
      }));
    }
    host.complete({
      run: this,
      failure,
      record: {
        scheduledAt: new Date(trigger.scheduledAt),
        startedAt: new Date(startedAt),
        finishedAt: new Date(finishedAt),
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
  #renew<D>(host: RunHost<D>, lease: ExecutionLease): () => Promise<void> {
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
      return () => Promise.resolve();
    }
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
      host.emit("execution-guard-lost", () => ({
        type: "execution-guard-lost",
        jobId: host.jobId,
        scheduledAt: new Date(trigger.scheduledAt),
        catchUp: trigger.catchUp,
        triggerCount: trigger.triggerCount,
      }));
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
