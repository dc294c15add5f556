/**
 * Stop and pause requests of one scheduler, shared by the loop that obeys
 * them and the handles that make them.
 *
 * @module
 */

import { TriggerNowErrorKind } from "../../constants.ts";
import {
  requestedInstant,
  triggerNowError,
  type TriggerNowOptions,
} from "../run/manual.ts";
import type { RunRecord, SchedulerReport } from "../events/report.ts";
import { nextRunsOf, RunOutcome, type RunView } from "./_run_view.ts";
import { isRested } from "./_resume.ts";

/** Starts a manual run of the active `run()`. */
type ManualTrigger = (options?: TriggerNowOptions) => Promise<RunRecord>;

/** A request to stop the current (or next) `run()`. */
export type StopRequest =
  | { readonly kind: "cancel"; readonly reason: unknown }
  | { readonly kind: "shutdown" };

/** The abort reason of a `cancel()` without a reason. */
export function defaultCancelReason(): DOMException {
  return new DOMException("the scheduler was cancelled", "AbortError");
}

/**
 * The control state of one scheduler. A stop requested while no `run()` is
 * active applies to the next `run()` and is used up when that `run()` ends;
 * a pause lasts until `resume()`.
 */
export class ControlState {
  #stop: StopRequest | undefined;
  #paused = false;
  #listener: (() => void) | undefined;
  #trigger: ManualTrigger | undefined;
  #idle: (() => Promise<void>) | undefined;
  #run: RunView | undefined;
  #outcome: RunOutcome | undefined;

  /** The pending stop request, if any. */
  get stop(): StopRequest | undefined {
    return this.#stop;
  }

  /** Whether the scheduler is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Requests a cancel; a later cancel keeps the first reason. */
  cancel(reason: unknown): void {
    if (this.#stop?.kind === "cancel") return;
    this.#stop = { kind: "cancel", reason };
    this.#listener?.();
  }

  /** Requests a shutdown, unless a stop is already requested. */
  shutdown(): void {
    if (this.#stop !== undefined) return;
    this.#stop = { kind: "shutdown" };
    this.#listener?.();
  }

  /** Pauses. */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#listener?.();
  }

  /** Resumes. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#listener?.();
  }

  /** Lets the active `run()` hear about every change. */
  attach(listener: () => void): void {
    this.#listener = listener;
  }

  /** Lets handles start manual runs of the active `run()`. */
  attachTrigger(trigger: ManualTrigger): void {
    this.#trigger = trigger;
  }

  /** Lets handles wait until the active `run()` is idle. */
  attachIdle(idle: () => Promise<void>): void {
    this.#idle = idle;
  }

  /**
   * Resolves once the active `run()` is idle (see `SchedulerHandle.idle`), at
   * once when none is active.
   */
  idle(): Promise<void> {
    return this.#idle?.() ?? Promise.resolve();
  }

  /** Starts a manual run, or rejects when no `run()` can take one. */
  triggerNow(options?: TriggerNowOptions): Promise<RunRecord> {
    try {
      requestedInstant(options); // a typo is named whether or not a run is active
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#trigger === undefined) {
      return Promise.reject(
        triggerNowError(undefined, TriggerNowErrorKind.NotRunning),
      );
    }
    return this.#trigger(options);
  }

  /** Lets handles see the active `run()`'s job and store. */
  attachRun(run: RunView): void {
    this.#run = run;
  }

  /** The next `count` runs of the active (or last) run; none before any. */
  nextRuns(count: number): Promise<Date[]> {
    return nextRunsOf(this.#run, count);
  }

  /** The report of the current `run()`, or of the next one. */
  get done(): Promise<SchedulerReport> {
    this.#outcome ??= new RunOutcome();
    return this.#outcome.promise;
  }

  /** Ends a `run()`: detaches it and uses up its stop request. */
  finishRun(): void {
    this.#listener = undefined;
    this.#trigger = undefined;
    this.#idle = undefined;
    this.#stop = undefined;
    // The run stays visible: its next runs are read from the store after it
    // ended too (none once the schedule is exhausted).
    this.#run?.markLoaded();
  }

  /**
   * Settles `done` with how the `run()` that just finished ended, after
   * `finish` (which detaches the run) so that a handle awaiting `done` may
   * start the next `run()` at once.
   */
  settleRun(
    outcome: { report: SchedulerReport } | { error: unknown },
    finish: () => void,
  ): void {
    finish();
    // A run gone back to its group's clock has not ended (`_resume.ts`).
    if ("report" in outcome && isRested(outcome.report)) return;
    const pending = this.#outcome;
    this.#outcome = undefined;
    if (pending === undefined) return;
    if ("report" in outcome) pending.resolve(outcome.report);
    else pending.reject(outcome.error);
  }
}
