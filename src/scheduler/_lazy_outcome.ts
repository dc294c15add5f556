/**
 * How a job of a `JobGroup` ended, as its `done` promise: built only when
 * someone reads `done` (ten thousand sleeping jobs hold no promise each),
 * and never an unhandled rejection for a failure nobody asked about (the
 * group reports that one: `job_group.ts`).
 *
 * Runtime-neutral.
 *
 * @module
 */

import type { SchedulerReport } from "./events/report.ts";

type Ended = { report: SchedulerReport } | { error: unknown };

/** A report or an error, and the promise of it once asked for. */
export class LazyOutcome {
  #ended: Ended | undefined;
  #promise: Promise<SchedulerReport> | undefined;
  #resolve: ((report: SchedulerReport) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;

  /** The promise of the outcome (the same one every time). */
  get promise(): Promise<SchedulerReport> {
    if (this.#promise !== undefined) return this.#promise;
    const ended = this.#ended;
    if (ended === undefined) {
      this.#promise = new Promise((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
    } else if ("report" in ended) this.#promise = Promise.resolve(ended.report);
    else this.#promise = Promise.reject(ended.error);
    return this.#promise;
  }

  /** The report, once the job ended with one. */
  get report(): SchedulerReport | undefined {
    const ended = this.#ended;
    return ended !== undefined && "report" in ended ? ended.report : undefined;
  }

  /** Settles the outcome (the first call counts). */
  end(ended: Ended): void {
    if (this.#ended !== undefined) return;
    this.#ended = ended;
    if ("report" in ended) this.#resolve?.(ended.report);
    else this.#reject?.(ended.error);
    this.#resolve = this.#reject = undefined;
  }
}
