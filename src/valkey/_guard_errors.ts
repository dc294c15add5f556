/**
 * The failures of the Valkey guard's calls, typed: an
 * {@linkcode ExecutionGuardError} that names the operation, the job and the
 * keys. Shared by the guard and its in-flight ledger.
 *
 * @module
 */

import { ExecutionGuardError, isInstance } from "../errors.ts";
import { classifyFailure, type ValkeyClient } from "./_client.ts";

/** Which call failed, for whom, on which client and (when known) keys. */
export interface GuardCall {
  readonly operation: string;
  readonly jobId: string;
  readonly client?: ValkeyClient;
  readonly keys?: readonly string[];
}

/** `cause` as the guard reports it: typed, with the call it broke. */
export function guardError(
  cause: unknown,
  call: GuardCall,
): ExecutionGuardError {
  if (isInstance(cause, ExecutionGuardError)) return cause;
  const { kind, message } = classifyFailure(call.client, cause);
  const keys = call.keys === undefined
    ? ""
    : ` (key${call.keys.length > 1 ? "s" : ""} ${call.keys.join(", ")})`;
  return new ExecutionGuardError(
    `Valkey execution guard ${call.operation} failed for job ${
      JSON.stringify(call.jobId)
    }${keys}: ${message}`,
    { kind, cause },
  );
}
