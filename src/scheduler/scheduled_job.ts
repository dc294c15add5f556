/**
 * The handle that {@linkcode schedule} returns: one running job, with its
 * controls, its events, its next run and its final report.
 *
 * Runtime-neutral.
 *
 * @module
 */

import type { StateStore } from "../store/state_store.ts";
import type { SchedulerHandle } from "./control.ts";
import type { SchedulerReport } from "./events/report.ts";
import type { Scheduler } from "./scheduler.ts";

/**
 * A job started by `schedule()`. Stop it with `cancel()` (or the `signal`
 * option), let it finish with `shutdown()`, and await `done` for its report.
 *
 * @example Ask for the next run, then stop
 * ```ts
 * import { schedule } from "@cloudiful/scheduler";
 * const job = schedule({ everyMs: 60_000 }, () => console.log("tick"));
 * console.log((await job.nextRun())?.toISOString());
 * job.cancel();
 * console.log((await job.done).stopReason); // cancelled
 * ```
 */
export class ScheduledJob {
  /** The job id: the key of its stored state (and of its leases). */
  readonly jobId: string;
  /** The scheduler running it, for `addEventListener`. */
  readonly scheduler: Scheduler;
  /**
   * Settles when the job stops: resolves with its report (`terminal`,
   * `cancelled`, `shutdown`), or rejects with the error that stopped it
   * (`StoreError`, `ExecutionGuardError`, `TaskJoinError`). Await or catch
   * it: an unobserved rejection ends a Deno process, as any would.
   */
  readonly done: Promise<SchedulerReport>;
  readonly #handle: SchedulerHandle;
  readonly #store: StateStore;
  readonly #loaded: Promise<void>;

  /**
   * Wraps a started run. `schedule()` builds these; there is no reason to
   * call this yourself.
   *
   * @param started The scheduler, its store, the job id, and the promise of
   * its `run()`.
   */
  constructor(
    started: {
      scheduler: Scheduler;
      store: StateStore;
      jobId: string;
      run: (scheduler: Scheduler) => Promise<SchedulerReport>;
    },
  ) {
    this.jobId = started.jobId;
    this.scheduler = started.scheduler;
    this.#store = started.store;
    this.#handle = started.scheduler.handle();
    // nextRun() reads the store, which holds the job's state only once the
    // run has loaded (or created) it.
    this.#loaded = new Promise((resolve) => {
      started.scheduler.addEventListener("state-loaded", () => resolve(), {
        once: true,
      });
      started.scheduler.addEventListener("scheduler-stopped", () => resolve(), {
        once: true,
      });
    });
    this.done = started.run(started.scheduler);
  }

  /**
   * The next occurrence not yet taken off the schedule, as the store holds
   * it (the scheduler saves it before each run starts); `null` once the
   * schedule is exhausted or the state was deleted. An occurrence already
   * running is not "next": this is the one after it.
   *
   * @returns The instant, or `null`.
   * @throws {StoreError} when the store cannot be read.
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
    await this.#loaded;
    const state = await this.#store.load(this.jobId);
    return state?.nextRunAt ?? null;
  }

  /**
   * Stops the job and aborts its running task's signal with `reason`;
   * `done` resolves once that run has settled.
   *
   * @example
   * ```ts
   * import { schedule } from "@cloudiful/scheduler";
   * const job = schedule({ everyMs: 1000 }, () => {});
   * job.cancel(new Error("deploying"));
   * await job.done;
   * ```
   */
  cancel(reason?: unknown): void {
    this.#handle.cancel(reason);
  }

  /**
   * Stops the job and lets a running task finish.
   *
   * @example
   * ```ts
   * import { schedule } from "@cloudiful/scheduler";
   * const job = schedule({ everyMs: 1000 }, () => {});
   * job.shutdown();
   * console.log((await job.done).stopReason); // shutdown
   * ```
   */
  shutdown(): void {
    this.#handle.shutdown();
  }

  /**
   * Starts nothing until `resume()`; occurrences stay due meanwhile.
   *
   * @example
   * ```ts
   * import { schedule } from "@cloudiful/scheduler";
   * const job = schedule({ everyMs: 1000 }, () => {});
   * job.pause();
   * console.log(job.paused); // true
   * job.cancel();
   * await job.done;
   * ```
   */
  pause(): void {
    this.#handle.pause();
  }

  /**
   * Ends a `pause()`; the missed-run policy decides about what came due.
   *
   * @example
   * ```ts
   * import { schedule } from "@cloudiful/scheduler";
   * const job = schedule({ everyMs: 1000 }, () => {});
   * job.pause();
   * job.resume();
   * job.cancel();
   * await job.done;
   * ```
   */
  resume(): void {
    this.#handle.resume();
  }

  /** Whether the job is paused. */
  get paused(): boolean {
    return this.#handle.paused;
  }

  /**
   * Resolves once the job is idle: every timer firing so far decided, every
   * run that does not wait on a timer finished and saved (see
   * `SchedulerHandle.idle` and docs/testing.md).
   *
   * @example After a tick of fake time, wait for what it brought
   * ```ts
   * import { schedule } from "@cloudiful/scheduler";
   * const job = schedule({ everyMs: 1000 }, () => {});
   * await job.idle();
   * job.cancel();
   * await job.done;
   * ```
   */
  idle(): Promise<void> {
    return this.#handle.idle();
  }
}
