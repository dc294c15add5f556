/**
 * What the status view reports about a deployment: every stored job with its
 * state, leases, fencing counter and in-flight records, and every entry that
 * does not decode. Built by `_build_report.ts` from what a backend's reader
 * found (`_kv_reader.ts`, `_valkey_reader.ts`); reading never writes.
 *
 * @module
 */

import type { JobState } from "../store/job_state.ts";

/**
 * One occurrence's lease as stored.
 *
 * @example
 * ```ts
 * import type { StoredLease } from "@cloudiful/scheduler/status";
 * const late = (lease: StoredLease) => lease.deadline !== null && lease.deadline < new Date();
 * ```
 */
export interface StoredLease {
  /** The key it was read from, as text. */
  readonly key: string;
  /** The occurrence it guards. */
  readonly scheduledAt: Date;
  /** `held` while a run holds it; `done` once released (a marker). */
  readonly status: "held" | "done";
  /** The holder's lease token. */
  readonly holder: string;
  /** When the lease (or the done marker) ends, if the store says. */
  readonly deadline: Date | null;
  /** The lease's fencing token, where the lease record carries it. */
  readonly fencingToken: string | null;
}

/**
 * An at-least-once in-flight record: a run that started and did not finish.
 *
 * @example
 * ```ts
 * import type { StoredInFlight } from "@cloudiful/scheduler/status";
 * const pending = (r: StoredInFlight) => r.phase === "waiting-for-replay";
 * ```
 */
export interface StoredInFlight {
  /** The key (and field) it was read from, as text. */
  readonly key: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /** As decided for the run. */
  readonly catchUp: boolean;
  /** The run's fencing token, as text. */
  readonly fencingToken: string;
  /** The lease token of the run that wrote it. */
  readonly holder: string;
  /**
   * `running` while its holder's lease is held and unexpired; otherwise the
   * holder is gone and the next instance replays it: `waiting-for-replay`.
   */
  readonly phase: "running" | "waiting-for-replay";
}

/**
 * One job found in the store.
 *
 * @example
 * ```ts
 * import type { StoredJob } from "@cloudiful/scheduler/status";
 * const show = (job: StoredJob) => console.log(job.jobId, job.state?.nextRunAt);
 * ```
 */
export interface StoredJob {
  /** The job id. */
  readonly jobId: string;
  /** The stored state, or `null` when only leases or records exist. */
  readonly state: JobState | null;
  /**
   * How the last run ended, from the state: `success` when the last run is
   * the last success, `failed` otherwise, `null` before any run.
   */
  readonly lastOutcome: "success" | "failed" | null;
  /** The occurrences' leases (held or done markers), oldest first. */
  readonly leases: readonly StoredLease[];
  /** The job's fencing counter, as text (it may exceed 2^53). */
  readonly fencingCounter: string | null;
  /** In-flight records, oldest first. */
  readonly inFlight: readonly StoredInFlight[];
}

/**
 * An entry that does not decode, or a key the library does not write.
 *
 * @example
 * ```ts
 * import type { DamagedEntry } from "@cloudiful/scheduler/status";
 * const line = (entry: DamagedEntry) => `${entry.key}: ${entry.problem}`;
 * ```
 */
export interface DamagedEntry {
  /** The key, as text (with the hash field on Valkey). */
  readonly key: string;
  /** Why it is listed: what does not decode, or that it is not ours. */
  readonly problem: string;
}

/**
 * Everything the status view found.
 *
 * @example
 * ```ts
 * import type { StatusReport } from "@cloudiful/scheduler/status";
 * const healthy = (report: StatusReport) => report.damaged.length === 0;
 * ```
 */
export interface StatusReport {
  /** Which backend was read. */
  readonly backend: "deno-kv" | "valkey";
  /** When it was read. */
  readonly readAt: Date;
  /** Every job found, by job id. */
  readonly jobs: readonly StoredJob[];
  /** Entries that do not decode, and keys set aside or unknown. */
  readonly damaged: readonly DamagedEntry[];
}
