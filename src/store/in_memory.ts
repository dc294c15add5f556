/**
 * A state store in a `Map`, for tests and single-process use.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { type JobState, withDefinition } from "./job_state.ts";
import {
  mergedDefinition,
  mergeTimes,
  type StateTimes,
  stateTimes,
} from "./_merge_state.ts";
import type { CreateIfAbsentStateStore, StateStore } from "./state_store.ts";
import { requireSavableInMemory, requireStoreJobId } from "./_store_input.ts";

/** A state as plain numbers: copying it in and out is all the store does. */
interface StoredState extends StateTimes {
  readonly jobId: string;
  readonly definition: string | undefined;
}

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

/** The stored fields as a state, without the definition fingerprint. */
function fields(state: StoredState): JobState {
  return {
    jobId: state.jobId,
    triggerCount: state.triggerCount,
    lastRunAt: toDate(state.lastRunAt),
    lastSuccessAt: toDate(state.lastSuccessAt),
    nextRunAt: toDate(state.nextRunAt),
    lastError: state.lastError,
  };
}

function fromStored(state: StoredState): JobState {
  return withDefinition(fields(state), state.definition);
}

/** `InMemoryStateStore`'s own save, unwrapped from its promise. */
let saveNow: (
  store: InMemoryStateStore,
  state: JobState,
  definition: string | undefined,
) => void;

/**
 * Keeps job states in memory. Loads and saves copy, so callers never share
 * objects with the store. Never fails for an outage; it refuses what Deno KV
 * and Valkey refuse (a state with an instant outside the years 0000-9999:
 * `StoreError` kind `data`). A save never moves the stored state
 * back (see the README's "Shared state never goes backwards"); `delete`
 * then `save` to start a job over.
 *
 * @example Two schedulers share one store
 * ```ts
 * import { InMemoryStateStore } from "@cloudiful/scheduler";
 * const store = new InMemoryStateStore();
 * await store.save({
 *   jobId: "job",
 *   triggerCount: 2,
 *   lastRunAt: null,
 *   lastSuccessAt: null,
 *   nextRunAt: null,
 *   lastError: null,
 * });
 * console.log((await store.load("job"))?.triggerCount); // 2
 * ```
 */
export class InMemoryStateStore implements CreateIfAbsentStateStore {
  readonly #states = new Map<string, StoredState>();

  /** Creates an empty store. */
  constructor() {}

  /**
   * A copy of the state of `jobId`, or `undefined`.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore } from "@cloudiful/scheduler";
   * console.log(await new InMemoryStateStore().load("missing")); // undefined
   * ```
   */
  // deno-lint-ignore require-await
  async load(jobId: string): Promise<JobState | undefined> {
    requireStoreJobId(jobId);
    const state = this.#states.get(jobId);
    return Promise.resolve(state === undefined ? undefined : fromStored(state));
  }

  /**
   * Stores a copy of `state`.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore } from "@cloudiful/scheduler";
   * const store = new InMemoryStateStore();
   * await store.save({ jobId: "a", triggerCount: 0, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null });
   * ```
   */
  // deno-lint-ignore require-await
  async save(state: JobState): Promise<void> {
    this.#save(state, state?.definition);
  }

  static {
    saveNow = (store, state, definition) => store.#save(state, definition);
  }

  /** Saves `state` with `definition` as its fingerprint. */
  #save(state: JobState, definition: string | undefined): void {
    const stored = this.#states.get(state?.jobId);
    // A job id already stored was checked when it was first saved.
    requireSavableInMemory(state, stored !== undefined);
    // Merged on numbers, as stored: no `Date` made on the way in.
    const times = stateTimes(state);
    this.#put(
      state.jobId,
      stored === undefined ? times : mergeTimes(stored, times),
      stored === undefined ? definition : mergedDefinition(stored, {
        triggerCount: state.triggerCount,
        definition,
      }),
    );
  }

  /**
   * Stores a copy of `state` unless a state of its job id is already there;
   * resolves `undefined` when stored, or a copy of the existing state.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore } from "@cloudiful/scheduler";
   * const store = new InMemoryStateStore();
   * const first = { jobId: "a", triggerCount: 0, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null };
   * console.log(await store.createIfAbsent(first)); // undefined
   * console.log((await store.createIfAbsent({ ...first, triggerCount: 9 }))?.triggerCount); // 0
   * ```
   */
  // deno-lint-ignore require-await
  async createIfAbsent(state: JobState): Promise<JobState | undefined> {
    requireSavableInMemory(state);
    const stored = this.#states.get(state.jobId);
    if (stored !== undefined) return fromStored(stored);
    this.#put(state.jobId, stateTimes(state), state.definition);
    return undefined;
  }

  #put(
    jobId: string,
    times: StateTimes,
    definition: string | undefined,
  ): void {
    this.#states.set(jobId, {
      jobId,
      triggerCount: times.triggerCount,
      lastRunAt: times.lastRunAt,
      lastSuccessAt: times.lastSuccessAt,
      nextRunAt: times.nextRunAt,
      lastError: times.lastError,
      definition,
    });
  }

  /**
   * Removes the state of `jobId`.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore } from "@cloudiful/scheduler";
   * await new InMemoryStateStore().delete("a");
   * ```
   */
  // deno-lint-ignore require-await
  async delete(jobId: string): Promise<void> {
    requireStoreJobId(jobId);
    this.#states.delete(jobId);
    return Promise.resolve();
  }
}

const ownSave = InMemoryStateStore.prototype.save;

/**
 * Saves `state` with `definition` as its fingerprint at once, as `save()`
 * would save it carrying that fingerprint (a problem with `state` throws as
 * `save()` would reject). For a store that {@linkcode keepsNumbersOnly}:
 * the engine's steady path saves twice a run, and this spares it the promise
 * hops of an `await` on a store that has nothing to wait for, and a copy of
 * the state to carry the fingerprint.
 */
export function saveInMemoryNow(
  store: InMemoryStateStore,
  saving: { readonly state: JobState; readonly definition: string },
): void {
  saveNow(store, saving.state, saving.definition);
}

/**
 * Whether `store` is an {@linkcode InMemoryStateStore} with its own `save`,
 * which copies a state's instants as numbers and keeps no object it was
 * given.
 */
export function keepsNumbersOnly(
  store: StateStore,
): store is InMemoryStateStore {
  return store.save === ownSave && store instanceof InMemoryStateStore;
}
