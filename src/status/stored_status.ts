/**
 * What the status view reports about a deployment: every stored job with its
 * state, leases, fencing counter and in-flight records, and every entry that
 * does not decode. Built by `_build_report.ts` from what a backend's reader
 * found (`_kv_reader.ts`, `_valkey_reader.ts`); reading never writes.
 *
 * @module
 */

import type { JobState } from "../store/job_state.ts";

/** One occurrence's lease as stored. */
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

/** An at-least-once in-flight record: a run that started and did not finish. */
export interface StoredInFlight {
  /** The key (and field) it was read from, as text. */
  readonly key: string;
  readonly scheduledAt: Date;
  readonly triggerCount: number;
  readonly catchUp: boolean;
  readonly fencingToken: string;
  /** The lease token of the run that wrote it. */
  readonly holder: string;
  /**
   * `running` while its holder's lease is held and unexpired; otherwise the
   * holder is gone and the next instance replays it: `waiting-for-replay`.
   */
  readonly phase: "running" | "waiting-for-replay";
}

/** One job found in the store. */
export interface StoredJob {
  readonly jobId: string;
  /** The stored state, or `null` when only leases or records exist. */
  readonly state: JobState | null;
  /**
   * How the last run ended, from the state: `success` when the last run is
   * the last success, `failed` otherwise, `null` before any run.
   */
  readonly lastOutcome: "success" | "failed" | null;
  readonly leases: readonly StoredLease[];
  /** The job's fencing counter, as text (it may exceed 2^53). */
  readonly fencingCounter: string | null;
  readonly inFlight: readonly StoredInFlight[];
}

/** An entry that does not decode, or a key the library does not write. */
export interface DamagedEntry {
  readonly key: string;
  readonly problem: string;
}

/** Everything the status view found. */
export interface StatusReport {
  readonly backend: "deno-kv" | "valkey";
  /** When it was read. */
  readonly readAt: Date;
  readonly jobs: readonly StoredJob[];
  /** Entries that do not decode, and keys set aside or unknown. */
  readonly damaged: readonly DamagedEntry[];
}
