/**
 * Events about execution leases: contended, failed to acquire, lost, failed to release, and a fencing counter that was reset.
 *
 * @module
 */

import type { ExecutionGuardErrorKind } from "../../constants.ts";

/**
 * Another instance holds (or has run) the occurrence; it is not run here.
 *
 * @example
 * ```ts
 * import type { ExecutionGuardContendedEvent } from "@cloudiful/scheduler";
 * const show = (e: ExecutionGuardContendedEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface ExecutionGuardContendedEvent {
  /** The event type. */
  readonly type: "execution-guard-contended";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /**
   * Set when the guard could not tell that another instance holds it, only
   * that it may (a Valkey lease key holding a value that is no known token
   * or done marker): names the key (docs/recovery.md). Also set when a
   * Valkey grant saved with the state had fewer replicas acknowledge it
   * than `durability` asks: it is not run, and its lease runs out
   * (docs/valkey.md, "Two round trips per run").
   */
  readonly note?: string;
}

/**
 * *(new)* The guard could not read the occurrence's lease (it answered an
 * `ExecutionGuardError` kind `data`, such as an undecodable lease value).
 * The occurrence is treated as contended — it does not run here, as it may
 * be another instance's — and scheduling goes on with later occurrences.
 *
 * @example
 * ```ts
 * import type { ExecutionGuardAcquireFailedEvent } from "@cloudiful/scheduler";
 * const show = (e: ExecutionGuardAcquireFailedEvent) => console.warn(e.jobId, e.scheduledAt, e.error);
 * ```
 */
export interface ExecutionGuardAcquireFailedEvent {
  /** The event type. */
  readonly type: "execution-guard-acquire-failed";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /** The guard error's message (it names the key). */
  readonly error: string;
  /** The guard error's kind (`data`: any other kind fails `run()`). */
  readonly errorKind?: ExecutionGuardErrorKind;
}

/**
 * The guard found damaged data of the job's at-least-once bookkeeping (an
 * undecodable in-flight record, or an orphaned one whose occurrence another
 * holder already completed) and set it aside, so that every instance goes
 * on. `error` is the `ExecutionGuardError` (kind `data`) message: it names
 * the key and where the damaged value was moved (docs/recovery.md). The
 * same message becomes the job's `lastError`.
 *
 * @example
 * ```ts
 * import type { ExecutionGuardDataDamagedEvent } from "@cloudiful/scheduler";
 * const show = (e: ExecutionGuardDataDamagedEvent) => console.log(e.type, e.jobId, e.error);
 * ```
 */
export interface ExecutionGuardDataDamagedEvent {
  /** The event type. */
  readonly type: "execution-guard-data-damaged";
  /** The job id. */
  readonly jobId: string;
  /** The guard error's message (it names the key and its quarantine). */
  readonly error: string;
  /** The guard error's kind (`data`). */
  readonly errorKind?: ExecutionGuardErrorKind;
}

/**
 * A run's lease was lost: its signal is aborted, the scheduler shuts down.
 *
 * @example
 * ```ts
 * import type { ExecutionGuardLostEvent } from "@cloudiful/scheduler";
 * const show = (e: ExecutionGuardLostEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface ExecutionGuardLostEvent {
  /** The event type. */
  readonly type: "execution-guard-lost";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
}

/**
 * Releasing a lease failed; the run is still recorded.
 *
 * @example
 * ```ts
 * import type { ExecutionGuardReleaseFailedEvent } from "@cloudiful/scheduler";
 * const show = (e: ExecutionGuardReleaseFailedEvent) => console.log(e.type, e.jobId, e.scheduledAt);
 * ```
 */
export interface ExecutionGuardReleaseFailedEvent {
  /** The event type. */
  readonly type: "execution-guard-release-failed";
  /** The job id. */
  readonly jobId: string;
  /** The occurrence's scheduled instant. */
  readonly scheduledAt: Date;
  /** Whether the run makes up for lateness or for several due occurrences. */
  readonly catchUp: boolean;
  /** The occurrence's ordinal. */
  readonly triggerCount: number;
  /** The release failure's message. */
  readonly error: string;
  /**
   * The failure's kind when the guard threw an `ExecutionGuardError`,
   * `unknown` for anything else it threw.
   */
  readonly errorKind?: ExecutionGuardErrorKind;
}

/**
 * The execution guard found the job's fencing counter gone (a Valkey server
 * restarted empty, a KV file deleted) or behind a token it had granted, and
 * re-seeded it: the new token is still greater than every token this guard
 * saw for the job, but a sink that keeps the newest token it accepted should
 * know that the counter was lost. Forwarded from the guard's own
 * `fencing-reset` event (the Deno KV and Valkey guards dispatch one).
 *
 * @example
 * ```ts
 * import type { FencingResetEvent } from "@cloudiful/scheduler";
 * const show = (e: FencingResetEvent) =>
 *   console.warn(e.type, e.jobId, e.previousFencingToken, e.fencingToken);
 * ```
 */
export interface FencingResetEvent {
  /** The event type. */
  readonly type: "fencing-reset";
  /** The job id. */
  readonly jobId: string;
  /** The highest token the guard had granted or seen for the job. */
  readonly previousFencingToken: bigint;
  /** The token granted from the re-seeded counter. */
  readonly fencingToken: bigint;
}
