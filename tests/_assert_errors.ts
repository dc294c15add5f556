/** Assertions on the library's typed errors, shared by the backend tests. */
import assert from "node:assert/strict";
import { ExecutionGuardError, StoreError } from "../mod.ts";

/** What a rejection must carry. */
export interface ExpectedError {
  kind: string;
  operation?: string;
  /** A fragment the message must contain (a job id, a value). */
  includes?: string;
}

async function rejectsWith<E extends StoreError | ExecutionGuardError>(
  promise: Promise<unknown>,
  errorClass: abstract new (...args: never[]) => E,
  expected: ExpectedError,
): Promise<E> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof errorClass,
    `expected a ${errorClass.name}, got ${String(caught)}`,
  );
  assert.equal(caught.kind, expected.kind, caught.message);
  if (expected.operation !== undefined) {
    assert.equal(
      (caught as StoreError).operation,
      expected.operation,
      caught.message,
    );
  }
  if (expected.includes !== undefined) {
    assert.ok(
      caught.message.includes(expected.includes),
      `message ${JSON.stringify(caught.message)} should name ${
        JSON.stringify(expected.includes)
      }`,
    );
  }
  return caught;
}

/** Awaits `promise`, expecting a `StoreError` as described; returns it. */
export function assertStoreError(
  promise: Promise<unknown>,
  expected: ExpectedError,
): Promise<StoreError> {
  return rejectsWith(promise, StoreError, expected);
}

/** Awaits `promise`, expecting an `ExecutionGuardError` of `kind`. */
export function assertGuardError(
  promise: Promise<unknown>,
  kind: string,
  includes?: string,
): Promise<ExecutionGuardError> {
  return rejectsWith(promise, ExecutionGuardError, { kind, includes });
}
