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
 * An optional store capability: create the first state of a job atomically.
 * The scheduler feature-detects it (`typeof store.createIfAbsent ===
 * "function"`) when a job has no stored state: several instances starting
 * together then agree on one first state — the winner's — instead of each
 * saving its own (with an interval schedule, each its own grid of
 * occurrences, which no execution guard can pair up). Stores without it
 * keep working with a plain `load` then `save`.
 *
 * Every built-in store has it: Valkey `SET NX`, a Deno KV commit checked
 * on an absent key, the in-memory store, and the resilient wrapper (which
 * passes it on to its primary).
 *
 * @example A Map store with the capability
 * ```ts
 * import type { CreateIfAbsentStateStore, JobState } from "@cloudiful/scheduler";
 * class MapStore implements CreateIfAbsentStateStore {
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
 *   createIfAbsent(state: JobState) {
 *     const existing = this.#states.get(state.jobId);
 *     if (existing) return Promise.resolve(structuredClone(existing));
 *     this.#states.set(state.jobId, structuredClone(state));
 *     return Promise.resolve(undefined);
 *   }
 * }
 * ```
 */
export interface CreateIfAbsentStateStore extends StateStore {
  /**
   * Stores `state` only if nothing is stored under `state.jobId`, in one
   * atomic step. Resolves `undefined` when `state` was stored, or a copy of
   * the state already there (which is left untouched).
   */
  createIfAbsent(state: JobState): Promise<JobState | undefined>;
}

/** Whether `store` offers {@linkcode CreateIfAbsentStateStore.createIfAbsent}. */
export function canCreateIfAbsent(
  store: StateStore,
): store is CreateIfAbsentStateStore {
  try {
    return typeof (store as Partial<CreateIfAbsentStateStore>)
      .createIfAbsent === "function";
  } catch {
    return false; // a hostile proxy: use the plain contract
  }
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
  /** The primary's error kind (`store-degraded` only). */
  readonly errorKind?: StoreErrorKind;
  /** The job id of that call. */
  readonly jobId?: string;
  /**
   * `store-recovered` only: what the write-back did not replay, e.g. a
   * delete made during the outage of a job another writer saved since.
   */
  readonly note?: string;
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
