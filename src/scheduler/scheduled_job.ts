/**
 * The handle that {@linkcode schedule} returns: one running job, with its
 * controls, its events, its next run and its final report.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { describeThrown } from "../errors.ts";
import { SchedulerHandle } from "./control.ts";
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
export class ScheduledJob extends SchedulerHandle {
  /** The job id: the key of its stored state (and of its leases). */
  readonly jobId: string;
  readonly #scheduler: Scheduler;
  readonly #done: Promise<SchedulerReport> | undefined;
  #observed = false;

  /**
   * Wraps a started run. `schedule()` builds these; there is no reason to
   * call this yourself.
   *
   * @param started The scheduler, the job id, and the start of its `run()`
   * (none for a job of a `JobGroup`, which starts it when due and settles
   * `done` itself).
   */
  constructor(
    started: {
      scheduler: Scheduler;
      jobId: string;
      run?: (scheduler: Scheduler) => Promise<SchedulerReport>;
    },
  ) {
    super(started.scheduler.handle());
    this.jobId = started.jobId;
    this.#scheduler = started.scheduler;
    this.#done = started.run?.(started.scheduler);
    // A quick-start program that never looks at `done` would die of an
    // unhandled rejection when the job fails: say so on stderr instead.
    this.#done?.catch((error) => {
      if (this.#observed) return;
      console.error(
        `scheduler: job ${JSON.stringify(this.jobId)} stopped: ${
          describeThrown(error)
        } (await or catch job.done to handle it)`,
      );
    });
  }

  /** The scheduler running it, for `addEventListener`. */
  get scheduler(): Scheduler {
    return this.#scheduler;
  }

  /**
   * Settles when the job stops: resolves with its report (`terminal`,
   * `cancelled`, `shutdown`), or rejects with the error that stopped it
   * (`StoreError`, `ExecutionGuardError`, `TaskJoinError`); the event
   * `scheduler-stopped` (reason `failed`) says so too. Once read, it is
   * yours to await or catch (an unobserved rejection ends a Deno process);
   * a job whose `done` is never read reports its failure with one
   * `console.error` line naming it instead.
   *
   * @example
   * ```ts
   * import { schedule } from "@cloudiful/scheduler";
   * const job = schedule({ everyMs: 10 }, { maxRuns: 1 }, () => {});
   * console.log((await job.done).stopReason); // terminal
   * ```
   */
  override get done(): Promise<SchedulerReport> {
    this.#observed = true;
    return this.#done!;
  }
}
