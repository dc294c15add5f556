/**
 * The rules of a job id, shared by `Job` and by every state store: a store
 * keys its data by the id, so it checks ids itself instead of trusting its
 * caller (a `null` id would otherwise be stored under `<prefix>null`).
 *
 * Runtime-neutral.
 *
 * @module
 */

import { describeValue, invalid } from "./errors.ts";

/** The longest job id, in UTF-16 code units. */
export const MAX_JOB_ID_LENGTH = 512;
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
/** How much of an over-long id an error message quotes. */
const QUOTED_PREFIX = 40;

/**
 * Returns `jobId` when it is a non-empty, well-formed Unicode string of at
 * most 512 characters without control characters.
 *
 * Lone surrogates are refused because encoders replace them with U+FFFD, so
 * two different ids would share one stored state.
 *
 * @throws {InvalidJobError} kind `other`, quoting the id (only its start when
 * it is too long).
 */
export function validateJobId(jobId: unknown): string {
  if (typeof jobId !== "string" || jobId === "") {
    throw invalid(
      `job id must be a non-empty string, got ${describeValue(jobId)}`,
    );
  }
  if (jobId.length > MAX_JOB_ID_LENGTH) {
    throw invalid(
      `job id must be at most ${MAX_JOB_ID_LENGTH} characters, got ${jobId.length}: ${
        JSON.stringify(jobId.slice(0, QUOTED_PREFIX))
      }…`,
    );
  }
  if (CONTROL_CHARACTER.test(jobId)) {
    throw invalid(
      `job id must not contain control characters, got ${
        JSON.stringify(jobId)
      }`,
    );
  }
  if (!jobId.isWellFormed()) {
    throw invalid(
      `job id must be well-formed Unicode (no lone surrogates), got ${
        JSON.stringify(jobId)
      }`,
    );
  }
  return jobId;
}
