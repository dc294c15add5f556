/**
 * What every state store checks on its way in, in one place: job ids (the
 * store's keys) and the states given to `save()`. A store must not write
 * what it cannot read back, and must not key data by `null`.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { InvalidJobError } from "../errors.ts";
import { validateJobId } from "../_job_id.ts";
import { requireRfc3339Year } from "../schedule/_rfc3339.ts";
import { type JobState, jobStateProblem } from "./job_state.ts";
import { unstorableState } from "./_json_codec.ts";

/**
 * Checks the job id of a `load()` or `delete()`.
 *
 * @throws {InvalidJobError} kind `other` for an id that breaks the job id
 * rules (see `Job`).
 */
export function requireStoreJobId(jobId: unknown): void {
  validateJobId(jobId);
}

/**
 * Checks the state given to `save()`: a well-formed {@linkcode JobState}
 * with a valid job id (not checked again when `knownJobId`: the store
 * already holds a state under it, so it passed before).
 *
 * @throws {InvalidJobError} kind `other`, naming the field that is wrong.
 */
export function requireSavableState(
  state: unknown,
  knownJobId = false,
): void {
  const problem = jobStateProblem(state);
  if (problem !== undefined) {
    throw new InvalidJobError(`save() needs a valid job state: ${problem}`, {
      kind: InvalidJobKind.Other,
    });
  }
  if (!knownJobId) validateJobId((state as JobState).jobId);
}

/**
 * Refuses a (well-formed) state with an instant outside the years 0000-9999,
 * as the stores that write the Rust crate's JSON must (`encodeJobState`): a
 * store that keeps states as they are (in memory, or a resilient store's
 * mirror) then holds the same states as Deno KV or Valkey, and a test that
 * passes on it does not fail in production.
 *
 * @throws {StoreError} kind `data`, operation `save`, as `encodeJobState`.
 */
export function requireStorableInstants(state: JobState): void {
  for (const date of [state.lastRunAt, state.lastSuccessAt, state.nextRunAt]) {
    if (date === null) continue;
    try {
      requireRfc3339Year(date.getTime());
    } catch (cause) {
      throw unstorableState(state.jobId, cause);
    }
  }
}

/**
 * What a store that keeps states as they are, without encoding them (the
 * in-memory store, a resilient store's mirror), checks on `save()`:
 * {@linkcode requireSavableState}, then {@linkcode requireStorableInstants}.
 *
 * @throws {InvalidJobError} for a malformed state.
 * @throws {StoreError} kind `data` for an instant outside the years 0000-9999.
 */
export function requireSavableInMemory(
  state: unknown,
  knownJobId = false,
): void {
  requireSavableState(state, knownJobId);
  requireStorableInstants(state as JobState);
}
