/**
 * The effect behind a new job's first state on a store that can create it
 * atomically (see `CreateIfAbsentStateStore`).
 *
 * @module
 */

import { StoreOperation } from "../../constants.ts";
import type { JobState } from "../../store/job_state.ts";
import {
  type CreateIfAbsentStateStore,
  toStoreError,
} from "../../store/state_store.ts";
import { checkStoredState } from "../rules/_initial_state.ts";

/**
 * Creates `state` unless another instance stored a state first; resolves
 * `undefined` when ours was stored, or the winner's state (checked like a
 * loaded one).
 *
 * @throws {StoreError} operation `save` when the store fails, kind `data`
 * for a malformed winner.
 */
export async function createFirstState(
  store: CreateIfAbsentStateStore,
  state: JobState,
): Promise<JobState | undefined> {
  let winner: JobState | undefined;
  try {
    winner = await store.createIfAbsent(state) ?? undefined;
  } catch (error) {
    throw toStoreError(error, StoreOperation.Save, state.jobId);
  }
  checkStoredState(winner, state.jobId);
  return winner;
}
