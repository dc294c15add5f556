/**
 * The handle that controls a scheduler from outside its `run()`.
 *
 * @module
 */

// deno-lint-ignore no-unused-vars -- resolves {@linkcode TriggerNowErrorKind} in the JSDoc
import type { TriggerNowErrorKind } from "../constants.ts";
import type { TriggerNowOptions } from "./run/manual.ts";
import type { RunRecord, SchedulerReport } from "./events/report.ts";
import {
  type ControlState,
  defaultCancelReason,
} from "./loop/_control_state.ts";

/**
 * Controls a scheduler from outside its `run()`: stop it, pause and resume it,
 * run its job now, read its next runs, await its report. Every handle of a
 * scheduler controls the same state; the object `schedule()` returns and the
 * entries of a `JobGroup` are handles too (`ScheduledJob` extends this class),
 * so they all share these controls.
 *
 * @example Stop a scheduler on a signal from elsewhere
 * ```ts
 * import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "@cloudiful/scheduler";
 * const scheduler = new Scheduler({}, new InMemoryStateStore());
 * const handle = scheduler.handle();
 * const job = Job.withoutDeps("tick", Schedule.interval(60_000), Task.fromSync(() => {}));
 * const running = scheduler.run(job);
 * handle.shutdown();
 * console.log((await running).stopReason); // shutdown
 * ```
 */
export class SchedulerHandle {
  readonly #control: ControlState;

  /** @internal Use `Scheduler.handle()`. */
  constructor(control: ControlState | SchedulerHandle) {
    this.#control = control instanceof SchedulerHandle
      ? control.#control
      : control;
  }

  /**
   * The report of the active `run()` (or, with none active, of the next
   * one): resolves with it, or rejects with the error `run()` rejects with.
   * Nobody awaiting it does not make an unhandled rejection.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "@cloudiful/scheduler";
   * const scheduler = new Scheduler({}, new InMemoryStateStore());
   * const handle = scheduler.handle();
   * const job = Job.withoutDeps("once", Schedule.atTimes([Date.now()]), Task.fromSync(() => {}));
   * void scheduler.run(job);
   * console.log((await handle.done).stopReason); // terminal
   * ```
   */
  get done(): Promise<SchedulerReport> {
    return this.#control.done;
  }

  /**
   * The next occurrence of the active (or last) `run()`'s job not yet taken
   * off its schedule, as the store holds it (saved before each run starts);
   * `null` once the schedule is exhausted, the state was deleted, or before
   * any `run()`. Waits for the run to load its state.
   *
   * @returns The instant, or `null`.
   * @throws {StoreError} (as a rejection) when the store cannot be read.
   *
   * @example
   * ```ts
   * import { schedule } from "@cloudiful/scheduler";
   * const job = schedule("0 3 * * *", { timezone: "Europe/Berlin" }, () => {});
   * const next = await job.nextRun(); // 03:00 Berlin time, as a Date
   * job.cancel();
   * await job.done;
   * ```
   */
  async nextRun(): Promise<Date | null> {
    return (await this.#control.nextRuns(1))[0] ?? null;
  }

  /**
   * Up to `count` next runs: the one {@linkcode SchedulerHandle.nextRun}
   * gives, then the schedule's occurrences after it, within `maxRuns`.
   *
   * @param count A whole number from 0 to 10 000.
   * @returns The instants, oldest first.
   * @throws {InvalidJobError} (as a rejection) for a bad `count`.
   * @throws {StoreError} (as a rejection) when the store cannot be read.
   *
   * @example
   * ```ts
   * import { schedule } from "@cloudiful/scheduler";
   * const job = schedule({ everyMs: 60_000 }, { maxRuns: 2 }, () => {});
   * console.log((await job.nextRuns(5)).length); // 2
   * job.cancel();
   * await job.done;
   * ```
   */
  async nextRuns(count: number): Promise<Date[]> {
    return await this.#control.nextRuns(count);
  }

  /**
   * Stops the scheduler: nothing new starts, the signals of running tasks are
   * aborted with `reason` (default: a `DOMException` named `AbortError`), and
   * `run()` resolves with stop reason `cancelled` once they have settled. Made
   * while no `run()` is active, it applies to the next one.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * new Scheduler({}, new InMemoryStateStore()).handle().cancel(new Error("deploy"));
   * ```
   */
  cancel(reason?: unknown): void {
    this.#control.cancel(reason === undefined ? defaultCancelReason() : reason);
  }

  /**
   * Stops the scheduler gracefully: nothing new starts, running tasks finish
   * and are recorded, and `run()` resolves with stop reason `shutdown`. Made
   * while no `run()` is active, it applies to the next one.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * new Scheduler({}, new InMemoryStateStore()).handle().shutdown();
   * ```
   */
  shutdown(): void {
    this.#control.shutdown();
  }

  /**
   * Pauses: nothing is consumed or started until `resume()`; occurrences that
   * come due meanwhile stay due, and a retry whose backoff ends meanwhile
   * starts at `resume()` (docs/run_controls.md). Running tasks go on.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * const handle = new Scheduler({}, new InMemoryStateStore()).handle();
   * handle.pause();
   * console.log(handle.paused); // true
   * ```
   */
  pause(): void {
    this.#control.pause();
  }

  /**
   * Resumes after `pause()`; the missed-run policy then decides what to do
   * with the occurrences that came due.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * const handle = new Scheduler({}, new InMemoryStateStore()).handle();
   * handle.pause();
   * handle.resume();
   * console.log(handle.paused); // false
   * ```
   */
  resume(): void {
    this.#control.resume();
  }

  /** Whether the scheduler is paused. */
  get paused(): boolean {
    return this.#control.paused;
  }

  /**
   * Resolves once the active `run()` is idle: every timer firing the clock
   * has delivered so far has been decided, and every run that does not itself
   * wait on a timer (or other I/O) has finished, been recorded and saved.
   * Under real time that is when the job sleeps until its next occurrence.
   * Under a fake clock, `await time.tickAsync(ms); await handle.idle();`
   * shows the same runs on every clock (docs/testing.md); acting right after
   * (`cancel()`, `pause()`, `triggerNow()`) sees them as done. Resolves at
   * once when no `run()` is active.
   *
   * @example Wait until the job sleeps
   * ```ts
   * import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "@cloudiful/scheduler";
   * const scheduler = new Scheduler({}, new InMemoryStateStore());
   * const handle = scheduler.handle();
   * const job = Job.withoutDeps("tick", Schedule.interval(60_000), Task.fromSync(() => {}));
   * const running = scheduler.run(job);
   * await handle.idle(); // the state is loaded; the job sleeps for a minute
   * handle.shutdown();
   * await running;
   * ```
   */
  idle(): Promise<void> {
    return this.#control.idle();
  }

  /**
   * Runs the active `run()`'s job once now, outside its schedule, and
   * resolves with the record of the run (of its last attempt, with
   * `withRetry`). The run is marked `manual: true` (in `ctx.run`, in
   * `run-started`, `run-completed` and the record), does not consume an
   * occurrence (`triggerCount` and `nextRunAt` are unchanged; the record
   * carries the state's current `triggerCount`), and obeys the overlap
   * policy: with a run active, `forbid` refuses it, `queue-one` queues it
   * (unless a trigger already waits) and `allow-parallel` starts it beside.
   *
   * With an execution guard it takes its own slot, at `requestedAt` (default:
   * now floored to the second; moved on by 1 ms while that instant is an
   * occurrence of the schedule), so instances pressed with the same
   * `requestedAt` run it once in all; the others reject with kind
   * `contended`. Its `scheduledAt` is that slot's instant.
   *
   * @param options `requestedAt`: identifies the request across instances.
   * @returns The record of the manual run.
   * @throws {TriggerNowError} (as a rejection) kind `not-running`, `paused`,
   * `stopping`, `overlap`, `contended` or `failed`; see
   * {@linkcode TriggerNowErrorKind}.
   * @throws {InvalidJobError} (as a rejection) for invalid options, a
   * `requestedAt` (or its slot) outside the years 0000–9999, or an interval of
   * 1 ms, where every millisecond is an occurrence and no slot is free.
   *
   * @example Run an hourly job now
   * ```ts
   * import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "@cloudiful/scheduler";
   * const scheduler = new Scheduler({}, new InMemoryStateStore());
   * const handle = scheduler.handle();
   * scheduler.addEventListener("state-loaded", async () => {
   *   const record = await handle.triggerNow();
   *   console.log(record.manual, record.status); // true success
   *   handle.shutdown();
   * });
   * const job = Job.withoutDeps("report", Schedule.cron("0 * * * *"), Task.fromSync(() => {}));
   * await scheduler.run(job);
   * ```
   */
  triggerNow(options?: TriggerNowOptions): Promise<RunRecord> {
    return this.#control.triggerNow(options);
  }
}
