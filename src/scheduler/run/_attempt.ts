/**
 * One attempt of a run: its own abort signal (a retry gets a fresh one), the
 * time limit that aborts it with a `TimeoutError`, and how it ended.
 *
 * @module
 */

import { RunStatus } from "../../constants.ts";
import { isInstance, recordedError, TaskJoinError } from "../../errors.ts";
import { armWake } from "../../schedule/sleep.ts";
import type { Task } from "../job/task.ts";
import type { RunContext, TaskContext } from "../job/task_context.ts";
import { runTask } from "../job/task.ts";
import type { AttemptTracer } from "../../telemetry/_attempt_span.ts";
import type { Deadline, DeadlineWatch } from "./_deadlines.ts";

/** The abort reason of an attempt that outlived its time limit. */
export function timeoutReason(timeoutMs: number): DOMException {
  return new DOMException(
    `the run timed out after ${timeoutMs} ms`,
    "TimeoutError",
  );
}

/** How an attempt ended. */
export interface AttemptResult {
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly status: RunStatus;
  readonly error: string | null;
  /** A worker panic: `run()` must fail with it. */
  readonly panic?: TaskJoinError;
}

/** What an attempt needs to run. */
export interface AttemptOptions<D> {
  readonly task: Task<D>;
  readonly deps: D;
  readonly run: RunContext;
  /** The attempt's time limit, if any. */
  readonly timeoutMs: number | undefined;
  /** Called at the deadline, when the signal is aborted for the timeout. */
  readonly onTimeout: () => void;
  /** Opens the attempt's span; absent when no tracing is registered. */
  readonly tracer: AttemptTracer | undefined;
  /** The engine's shared deadline timer, if it has one. */
  readonly deadlines?: DeadlineWatch;
}

/**
 * The signal of one attempt (made when the attempt starts, or earlier when
 * asked for). The first abort wins: a cancel after a timeout leaves the
 * attempt timed out, and the other way round.
 */
export class Attempt {
  #controller: AbortController | undefined;
  #abortedBy: "timeout" | "stop" | undefined;
  #reason: unknown;

  /** The attempt's signal. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortedBy !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** What aborted the signal, if anything did. */
  get abortedBy(): "timeout" | "stop" | undefined {
    return this.#abortedBy;
  }

  /** Aborts the signal unless it already was; says whether it did. */
  abort(by: "timeout" | "stop", reason: unknown): boolean {
    if (this.#abortedBy !== undefined) return false;
    this.#abortedBy = by;
    this.#reason = reason;
    this.#controller?.abort(reason);
    return true;
  }

  /**
   * Runs the task once under the time limit. Never rejects: every way the
   * task can end is a status.
   */
  async execute<D>(options: AttemptOptions<D>): Promise<AttemptResult> {
    const startedAt = Date.now();
    const { timeoutMs } = options;
    // Only a run with a time limit pays for a watch: the engine's shared
    // timer when it has one (see _deadlines.ts), else a timer of its own.
    let deadline: Deadline | undefined;
    let disarm: (() => void) | undefined;
    if (timeoutMs !== undefined) {
      const onDeadline = () => {
        if (this.abort("timeout", timeoutReason(timeoutMs))) {
          options.onTimeout();
        }
      };
      if (options.deadlines !== undefined) {
        deadline = options.deadlines.watch(startedAt + timeoutMs, onDeadline);
      } else disarm = armWake(startedAt + timeoutMs, onDeadline);
    }
    // A plain object: an accessor for a lazy signal cost more (~0.5 µs, by
    // Object.defineProperty or a literal getter) than an AbortController
    // made up front (~30 ns; only aborting one without a reason is dear).
    const context: TaskContext<D> = {
      run: options.run,
      deps: options.deps,
      signal: this.signal,
    };
    let status: RunStatus = RunStatus.Success;
    let error: string | null = null;
    let panic: TaskJoinError | undefined;
    // The task runs inside the span's context, so its own spans are children.
    const span = options.tracer?.start(options.run, startedAt);
    try {
      await (span === undefined
        ? runTask(options.task, context)
        : span.within(() => runTask(options.task, context)));
    } catch (thrown) {
      if (options.task.kind === "worker" && isInstance(thrown, TaskJoinError)) {
        panic = thrown;
      }
      status = this.#abortedBy === "stop"
        ? RunStatus.Cancelled
        : RunStatus.Failed;
      error = recordedError(thrown);
    }
    const finishedAt = Date.now();
    if (deadline !== undefined) options.deadlines!.settle(deadline);
    disarm?.();
    if (this.#abortedBy === "timeout" && panic === undefined) {
      // Past the limit is a timeout, however the task ended; its own error,
      // if any, is kept after the reason.
      const reason = `timed out after ${timeoutMs} ms`;
      status = RunStatus.TimedOut;
      error = error === null ? reason : `${reason}: ${error}`;
    }
    span?.end({ status, error, finishedAt });
    return { startedAt, finishedAt, status, error, panic };
  }
}
