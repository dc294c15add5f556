/**
 * Events about a job's stored state: loaded, repaired, reconciled with a changed definition, the store degraded and recovered, and a finished job's state deleted.
 *
 * @module
 */

import type {
  StateLoadSource,
  StoreErrorKind,
  StoreOperation,
} from "../../constants.ts";

/**
 * The state a run starts from was loaded, created or repaired.
 *
 * @example
 * ```ts
 * import type { StateLoadedEvent } from "@cloudiful/scheduler";
 * const show = (e: StateLoadedEvent) => console.log(e.type, e.jobId, e.triggerCount);
 * ```
 */
export interface StateLoadedEvent {
  /** The event type. */
  readonly type: "state-loaded";
  /** The job id. */
  readonly jobId: string;
  /** Occurrences consumed so far. */
  readonly triggerCount: number;
  /** The next occurrence; `null` when exhausted. */
  readonly nextRunAt: Date | null;
  /** `new`, `restored` or `repaired`. */
  readonly source: StateLoadSource;
}

/**
 * A stored interval state without a next run was given one.
 *
 * @example
 * ```ts
 * import type { StateRepairedEvent } from "@cloudiful/scheduler";
 * const show = (e: StateRepairedEvent) => console.log(e.type, e.jobId, e.triggerCount);
 * ```
 */
export interface StateRepairedEvent {
  /** The event type. */
  readonly type: "state-repaired";
  /** The job id. */
  readonly jobId: string;
  /** Occurrences consumed so far (kept). */
  readonly triggerCount: number;
  /** The stored next run (`null`). */
  readonly previousNextRunAt: Date | null;
  /** The repaired next run: now + the interval. */
  readonly repairedNextRunAt: Date;
}

/**
 * The stored state came from another job definition (its fingerprint
 * differs): `nextRunAt` was recomputed from the job's definition.
 *
 * @example
 * ```ts
 * import type { StateReconciledEvent } from "@cloudiful/scheduler";
 * const show = (e: StateReconciledEvent) => console.log(e.jobId, e.previous.fingerprint, e.next.fingerprint);
 * ```
 */
export interface StateReconciledEvent {
  /** The event type. */
  readonly type: "state-reconciled";
  /** The job id. */
  readonly jobId: string;
  /** Occurrences consumed so far (kept). */
  readonly triggerCount: number;
  /** The stored definition's fingerprint and next run. */
  readonly previous: ReconciledSide;
  /** The job's definition fingerprint and the recomputed next run. */
  readonly next: ReconciledSide;
}

/**
 * One side of a `state-reconciled` event.
 *
 * @example
 * ```ts
 * import type { ReconciledSide } from "@cloudiful/scheduler";
 * const changed = (a: ReconciledSide, b: ReconciledSide) => a.fingerprint !== b.fingerprint;
 * ```
 */
export interface ReconciledSide {
  /** The definition fingerprint (see the README's "Reconciliation"). */
  readonly fingerprint: string;
  /** The next run; `null` when the schedule is over. */
  readonly nextRunAt: Date | null;
}

/**
 * The state store is serving from its mirror (once per outage).
 *
 * @example
 * ```ts
 * import type { StoreDegradedEvent } from "@cloudiful/scheduler";
 * const show = (e: StoreDegradedEvent) => console.log(e.type, e.jobId, e.operation);
 * ```
 */
export interface StoreDegradedEvent {
  /** The event type. */
  readonly type: "store-degraded";
  /** The job id. */
  readonly jobId: string;
  /** The store call that found the primary unreachable. */
  readonly operation: StoreOperation;
  /** The primary's error message. */
  readonly error: string;
  /**
   * The primary's error kind (`connection` unless the store's
   * `isConnectionError` masks other failures too); absent when the store's
   * own event did not say.
   */
  readonly errorKind?: StoreErrorKind;
}

/**
 * The state store's primary answers again; changes were written back.
 *
 * @example
 * ```ts
 * import type { StoreRecoveredEvent } from "@cloudiful/scheduler";
 * const show = (e: StoreRecoveredEvent) => console.log(e.type, e.jobId, e.operation);
 * ```
 */
export interface StoreRecoveredEvent {
  /** The event type. */
  readonly type: "store-recovered";
  /** The job id. */
  readonly jobId: string;
  /** The store call that found the primary healthy. */
  readonly operation: StoreOperation;
  /**
   * What the write-back did not replay for this job: a delete made during
   * the outage, when another writer saved the job since (its state is kept).
   */
  readonly note?: string;
}

/**
 * The exhausted job's stored state was deleted (`terminalStatePolicy: "delete"`).
 *
 * @example
 * ```ts
 * import type { TerminalStateDeletedEvent } from "@cloudiful/scheduler";
 * const show = (e: TerminalStateDeletedEvent) => console.log(e.type, e.jobId, e.triggerCount);
 * ```
 */
export interface TerminalStateDeletedEvent {
  /** The event type. */
  readonly type: "terminal-state-deleted";
  /** The job id. */
  readonly jobId: string;
  /** Occurrences consumed in all. */
  readonly triggerCount: number;
}
