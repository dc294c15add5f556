/**
 * A state store in a `Map`, for tests and single-process use.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { type JobState, withDefinition } from "./job_state.ts";
import type { StateStore } from "./state_store.ts";

/** A state as plain numbers: copying it in and out is all the store does. */
interface StoredState {
  readonly jobId: string;
  readonly triggerCount: number;
  readonly lastRunAt: number | null;
  readonly lastSuccessAt: number | null;
  readonly nextRunAt: number | null;
  readonly lastError: string | null;
  readonly definition: string | undefined;
}

function toMs(date: Date | null): number | null {
  return date === null ? null : date.getTime();
}

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

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
  load(jobId: string): Promise<JobState | undefined> {
    const state = this.#states.get(jobId);
    return Promise.resolve(
      state === undefined ? undefined : withDefinition({
        jobId: state.jobId,
        triggerCount: state.triggerCount,
        lastRunAt: toDate(state.lastRunAt),
        lastSuccessAt: toDate(state.lastSuccessAt),
        nextRunAt: toDate(state.nextRunAt),
        lastError: state.lastError,
      }, state.definition),
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
    this.#states.set(state.jobId, {
      jobId: state.jobId,
      triggerCount: state.triggerCount,
      lastRunAt: toMs(state.lastRunAt),
      lastSuccessAt: toMs(state.lastSuccessAt),
      nextRunAt: toMs(state.nextRunAt),
      lastError: state.lastError,
      definition: state.definition,
    });
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
