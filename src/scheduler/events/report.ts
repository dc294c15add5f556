/**
 * What `Scheduler.run()` returns: the final state and the recent runs.
 *
 * @module
 */

import type { RunStatus, SchedulerStopReason } from "../../constants.ts";
import type { JobState } from "../../store/job_state.ts";

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
  /** `success`, `failed`, `cancelled` or `timed-out`. */
  status: RunStatus;
  /** The failure's message, or `null`. */
  error: string | null;
  /** The attempt on this occurrence; present only on retries (2, 3, …). */
  attempt?: number;
  /** Present (and `true`) only on runs started by `triggerNow()`. */
  manual?: true;
  /**
   * Present (and `true`) only on an at-least-once occurrence reclaimed from
   * a holder that died (see `RunContext.replayed`).
   */
  replayed?: true;
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

/**
 * A run record as the engine keeps it: instants as epoch milliseconds, so
 * recording a run allocates no `Date`s (they are made when reported).
 */
export interface CompletedRun {
  readonly scheduledAt: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly catchUp: boolean;
  readonly triggerCount: number;
  readonly status: RunStatus;
  readonly error: string | null;
  /** From 1. */
  readonly attempt: number;
  readonly manual: boolean;
  readonly replayed: boolean;
}

/** The newest `limit` run records, oldest first, in a ring buffer. */
export class RunHistory {
  readonly #limit: number;
  readonly #records: CompletedRun[] = [];
  /** Where the next record goes once the buffer is full. */
  #next = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Appends a record, dropping the oldest beyond the limit. */
  push(record: CompletedRun): void {
    if (this.#limit === 0) return;
    if (this.#records.length < this.#limit) {
      this.#records.push(record);
      return;
    }
    this.#records[this.#next] = record;
    this.#next = (this.#next + 1) % this.#limit;
  }

  /** Copies of the kept records, oldest first. */
  toArray(): RunRecord[] {
    const ordered = [
      ...this.#records.slice(this.#next),
      ...this.#records.slice(0, this.#next),
    ];
    return ordered.map(toRunRecord);
  }
}

/**
 * The public form of a record: `Date`s, and `attempt` / `manual` / `replayed` only when
 * they say something (so the records of plain runs keep their shape).
 */
export function toRunRecord(record: CompletedRun): RunRecord {
  const result: RunRecord = {
    scheduledAt: new Date(record.scheduledAt),
    startedAt: new Date(record.startedAt),
    finishedAt: new Date(record.finishedAt),
    catchUp: record.catchUp,
    triggerCount: record.triggerCount,
    status: record.status,
    error: record.error,
  };
  if (record.attempt > 1) result.attempt = record.attempt;
  if (record.manual) result.manual = true;
  if (record.replayed) result.replayed = true;
  return result;
}
