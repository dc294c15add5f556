/**
 * What `Scheduler.run()` returns: the final state and the recent runs.
 *
 * @module
 */

import type { RunStatus, SchedulerStopReason } from "../constants.ts";
import type { JobState } from "../store/job_state.ts";

/**
 * One completed run.
 *
 * @example
 * ```ts
 * import type { RunRecord } from "@cloudiful/scheduler";
 * function lateness(record: RunRecord): number {
 *   return record.startedAt.getTime() - record.scheduledAt.getTime();
 * }
 * ```
 */
export interface RunRecord {
  /** The occurrence's scheduled instant. */
  scheduledAt: Date;
  /** When the task started (after the lease was granted). */
  startedAt: Date;
  /** When the task settled (before the lease was released). */
  finishedAt: Date;
  /** Whether the run made up for lateness or for several occurrences. */
  catchUp: boolean;
  /** The occurrence's ordinal. */
  triggerCount: number;
  /** `success`, `failed` or `cancelled`. */
  status: RunStatus;
  /** The failure's message, or `null`. */
  error: string | null;
}

/**
 * The result of `Scheduler.run()`.
 *
 * @example
 * ```ts
 * import type { SchedulerReport } from "@cloudiful/scheduler";
 * function failures(report: SchedulerReport): number {
 *   return report.history.filter((run) => run.status === "failed").length;
 * }
 * ```
 */
export interface SchedulerReport {
  /** The job id. */
  jobId: string;
  /** The state at the end (as last saved). */
  state: JobState;
  /** Runs completed during this `run()`, oldest first, at most `historyLimit`. */
  history: RunRecord[];
  /** Why `run()` ended. */
  stopReason: SchedulerStopReason;
}

/** The newest `limit` run records, oldest first. */
export class RunHistory {
  readonly #limit: number;
  readonly #records: RunRecord[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Appends a record, dropping the oldest beyond the limit. */
  push(record: RunRecord): void {
    if (this.#limit === 0) return;
    this.#records.push(record);
    if (this.#records.length > this.#limit) this.#records.shift();
  }

  /** Copies of the kept records. */
  toArray(): RunRecord[] {
    return this.#records.map((record) => ({
      ...record,
      scheduledAt: new Date(record.scheduledAt.getTime()),
      startedAt: new Date(record.startedAt.getTime()),
      finishedAt: new Date(record.finishedAt.getTime()),
    }));
  }
}
