/**
 * A state store in a `Map`, for tests and single-process use.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { copyJobState, type JobState } from "./job_state.ts";
import type { StateStore } from "./state_store.ts";

/**
 * Keeps job states in memory. Loads and saves copy, so callers never share
 * objects with the store. Never fails.
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
export class InMemoryStateStore implements StateStore {
  readonly #states = new Map<string, JobState>();

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
  load(jobId: string): Promise<JobState | undefined> {
    const state = this.#states.get(jobId);
    return Promise.resolve(
      state === undefined ? undefined : copyJobState(state),
    );
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
  save(state: JobState): Promise<void> {
    this.#states.set(state.jobId, copyJobState(state));
    return Promise.resolve();
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
  delete(jobId: string): Promise<void> {
    this.#states.delete(jobId);
    return Promise.resolve();
  }
}
