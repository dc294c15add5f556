/**
 * Creating a job's first state on any store: atomically where the store
 * can, by a load then a save where it cannot.
 *
 * @module
 */

import type { JobState } from "./job_state.ts";
import { canCreateIfAbsent, type StateStore } from "./state_store.ts";

/**
 * Stores `state` on `store` unless a state of its job is already there;
 * resolves `undefined` when stored, or the state already there. Atomic only
 * when `store` has `createIfAbsent`.
 */
export async function createOnStore(
  store: StateStore,
  state: JobState,
): Promise<JobState | undefined> {
  if (canCreateIfAbsent(store)) {
    return await store.createIfAbsent(state) ?? undefined;
  }
  const existing = await store.load(state.jobId) ?? undefined;
  if (existing === undefined) await store.save(state);
  return existing;
}
