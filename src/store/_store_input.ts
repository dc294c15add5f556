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
import { type JobState, jobStateProblem } from "./job_state.ts";

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
