/**
 * The persisted JSON form of a job state, shared with the Rust crate:
 * `{"job_id","trigger_count","last_run_at","last_success_at","next_run_at",
 * "last_error"}` with RFC 3339 UTC timestamps or `null`. A Rust and a
 * TypeScript service can read each other's states. The scheduler adds
 * `"definition_fingerprint"` (a string, see the README's "Reconciliation"),
 * which the Rust crate's serde ignores as an unknown field; a state written
 * without it (by Rust) is adopted and gets it again on the next save.
 *
 * @module
 */

import { formatRfc3339, parseRfc3339 } from "../schedule/_rfc3339.ts";
import { StoreErrorKind, StoreOperation } from "../constants.ts";
import { StoreError } from "../errors.ts";
import { type JobState, withDefinition } from "./job_state.ts";

function encodeInstant(date: Date | null): string | null {
  return date === null ? null : formatRfc3339(date.getTime(), "auto");
}

/**
 * The Rust crate's JSON text of a state.
 *
 * @throws {StoreError} kind `data`, operation `save`, for an instant outside
 * the years 0000-9999 (RFC 3339 cannot write it).
 */
export function encodeJobState(state: JobState): string {
  try {
    return encodeChecked(state);
  } catch (cause) {
    throw unstorableState(state.jobId, cause);
  }
}

/**
 * The error of a save whose state cannot be stored because of `cause` (an
 * instant outside the years 0000-9999): kind `data`, operation `save`.
 */
export function unstorableState(jobId: string, cause: unknown): StoreError {
  return new StoreError(
    `the state of job ${JSON.stringify(jobId)} cannot be stored: ${
      (cause as Error).message
    }`,
    { kind: StoreErrorKind.Data, operation: StoreOperation.Save, cause },
  );
}

function encodeChecked(state: JobState): string {
  return JSON.stringify({
    job_id: state.jobId,
    trigger_count: state.triggerCount,
    last_run_at: encodeInstant(state.lastRunAt),
    last_success_at: encodeInstant(state.lastSuccessAt),
    next_run_at: encodeInstant(state.nextRunAt),
    last_error: state.lastError,
    ...(typeof state.definition === "string"
      ? { definition_fingerprint: state.definition }
      : {}),
  });
}

const FIELDS = [
  "job_id",
  "trigger_count",
  "last_run_at",
  "last_success_at",
  "next_run_at",
  "last_error",
  "definition_fingerprint",
] as const;

function camelCase(field: string): string {
  return field.replace(
    /_([a-z])/g,
    (_, letter: string) => letter.toUpperCase(),
  );
}

/** A field written in camelCase instead of the crate's snake_case. */
function misnamedField(record: Record<string, unknown>): string | undefined {
  for (const field of FIELDS) {
    const camel = camelCase(field);
    if (!(field in record) && camel in record) {
      return `${field} is missing but ${camel} is present (the stored form uses snake_case keys)`;
    }
  }
  return undefined;
}

/**
 * Decodes the Rust crate's JSON text of the state stored for `jobId`.
 *
 * Missing `last_run_at`, `last_success_at` and `last_error` read as `null`
 * (as serde does for `Option`); a missing `next_run_at` is refused, because
 * `null` there means "exhausted" and would stop the job silently. A field
 * spelt in camelCase is refused too. Other unknown fields are ignored.
 *
 * @throws {StoreError} kind `data`, operation `load`, naming the job id and
 * the field, for bad JSON, missing or camelCase fields, wrong field types,
 * unparsable timestamps, or a `job_id` that is not the one the state was
 * stored under.
 */
export function decodeJobState(text: unknown, jobId: string): JobState {
  const fail = (problem: string, cause?: unknown): never => {
    throw new StoreError(
      `stored state of job ${
        JSON.stringify(jobId)
      } does not decode: ${problem}`,
      { kind: StoreErrorKind.Data, operation: StoreOperation.Load, cause },
    );
  };
  if (typeof text !== "string") {
    return fail(`expected a JSON string, got ${typeof text}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return fail(`invalid JSON (${(cause as Error).message})`, cause);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("expected a JSON object");
  }
  const record = value as Record<string, unknown>;
  const misnamed = misnamedField(record);
  if (misnamed !== undefined) return fail(misnamed);
  if (!("next_run_at" in record)) {
    // Read as null it would mean "exhausted": the job would stop for good
    // without a word.
    return fail(
      "next_run_at is missing (null means exhausted; it must be written)",
    );
  }
  if (typeof record.job_id !== "string") {
    return fail("job_id is not a string");
  }
  if (record.job_id !== jobId) {
    return fail(`it belongs to job ${JSON.stringify(record.job_id)}`);
  }
  const count = record.trigger_count;
  if (
    typeof count !== "number" || !Number.isSafeInteger(count) || count < 0
  ) {
    return fail(
      `trigger_count ${JSON.stringify(count)} is not a non-negative integer`,
    );
  }
  const instant = (field: string): Date | null => {
    const raw = record[field];
    if (raw === undefined || raw === null) return null;
    const ms = typeof raw === "string" ? parseRfc3339(raw) : undefined;
    if (ms === undefined) {
      return fail(
        `${field} ${JSON.stringify(raw)} is not an RFC 3339 timestamp`,
      );
    }
    return new Date(ms);
  };
  const lastError = record.last_error ?? null;
  if (lastError !== null && typeof lastError !== "string") {
    return fail("last_error is neither a string nor null");
  }
  const definition = record.definition_fingerprint;
  if (definition !== undefined && typeof definition !== "string") {
    return fail("definition_fingerprint is not a string");
  }
  return withDefinition({
    jobId,
    triggerCount: count,
    lastRunAt: instant("last_run_at"),
    lastSuccessAt: instant("last_success_at"),
    nextRunAt: instant("next_run_at"),
    lastError,
  }, definition);
}
