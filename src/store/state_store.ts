/**
 * The state store contract and the error helpers shared by the stores.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { StoreErrorKind, type StoreOperation } from "../constants.ts";
import { describeThrown, isInstance, StoreError } from "../errors.ts";
import type { JobState } from "./job_state.ts";

/**
 * Where job states are persisted, one per job id. Implementations hand back
 * copies (mutating a loaded state never changes the stored one) and fail with
 * {@linkcode StoreError}: kind `connection` when the backend cannot be
 * reached, `data` when what is stored does not decode (naming the job id).
 *
 * Stores that report events extend `EventTarget` and dispatch
 * `store-degraded` / `store-recovered` `CustomEvent`s with detail
 * {@linkcode StoreEventDetail}; a running scheduler re-emits them.
 *
 * @example A store backed by a Map
 * ```ts
 * import type { JobState, StateStore } from "@cloudiful/scheduler";
 * class MapStore implements StateStore {
 *   #states = new Map<string, JobState>();
 *   load(jobId: string) {
 *     const state = this.#states.get(jobId);
 *     return Promise.resolve(state && structuredClone(state));
 *   }
 *   save(state: JobState) {
 *     this.#states.set(state.jobId, structuredClone(state));
 *     return Promise.resolve();
 *   }
 *   delete(jobId: string) {
 *     this.#states.delete(jobId);
 *     return Promise.resolve();
 *   }
 * }
 * ```
 */
export interface StateStore {
  /** The state stored for `jobId`, or `undefined` when there is none. */
  load(jobId: string): Promise<JobState | undefined>;
  /** Stores the whole state under `state.jobId`, replacing what was there. */
  save(state: JobState): Promise<void>;
  /** Removes the state of `jobId`; removing a missing state is not an error. */
  delete(jobId: string): Promise<void>;
}

/**
 * The detail of the `store-degraded` and `store-recovered` events a store
 * dispatches.
 *
 * @example
 * ```ts
 * import type { StoreEventDetail } from "@cloudiful/scheduler";
 * const detail: StoreEventDetail = { type: "store-recovered", operation: "save" };
 * console.log(detail.type);
 * ```
 */
export interface StoreEventDetail {
  /** The event type. */
  readonly type: "store-degraded" | "store-recovered";
  /** The store call during which the primary was found down, or up again. */
  readonly operation: StoreOperation;
  /** The primary's error message (`store-degraded` only). */
  readonly error?: string;
  /** The job id of that call. */
  readonly jobId?: string;
}

/**
 * `error` as a {@linkcode StoreError}: kept when it already is one, wrapped as
 * kind `unknown` otherwise.
 */
export function toStoreError(
  error: unknown,
  operation: StoreOperation,
  jobId: string,
): StoreError {
  if (isInstance(error, StoreError)) return error;
  return new StoreError(
    `state store ${operation} failed for job ${JSON.stringify(jobId)}: ${
      describeThrown(error)
    }`,
    { kind: StoreErrorKind.Unknown, operation, cause: error },
  );
}
