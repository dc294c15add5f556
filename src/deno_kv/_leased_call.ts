/**
 * The retries and typed failures of the Deno KV state store's leased
 * writes (`_leased_writes.ts`). A grant fails as the guard's acquire does
 * (an `ExecutionGuardError`, kind `connection` for an unusable database):
 * nothing was written, as when the lease is taken before the save. An end
 * fails as a save does (a `StoreError`): the state was not saved. Errors of
 * ours pass as they are: damaged guard data (`ExecutionGuardError` kind
 * `data`) and a write storm (`StoreError`).
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import {
  ExecutionGuardErrorKind,
  StoreErrorKind,
  StoreOperation,
} from "../constants.ts";
import {
  describeThrown,
  ExecutionGuardError,
  isInstance,
  StoreError,
} from "../errors.ts";
import {
  isConnectionKvError,
  KV_GUARD_RETRY_BUDGET_MS,
  retryKv,
} from "./_kv_errors.ts";

/** Which leased write is called. */
export interface LeasedCall {
  readonly operation: "acquire" | "end";
  readonly jobId: string;
  /** How long passing connection errors are retried. */
  readonly connectionMs: number;
}

/**
 * Runs `body` with contention retried (on the guard's budget: the commit
 * takes a lease) and passing connection errors retried, its failures typed.
 */
export async function leasedCall<T>(
  call: LeasedCall,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await retryKv(body, {
      contentionMs: KV_GUARD_RETRY_BUDGET_MS,
      connectionMs: call.connectionMs,
    });
  } catch (cause) {
    if (
      isInstance(cause, ExecutionGuardError) || isInstance(cause, StoreError)
    ) {
      throw cause;
    }
    const connection = isConnectionKvError(cause);
    const job = JSON.stringify(call.jobId);
    if (call.operation === "acquire") {
      throw new ExecutionGuardError(
        `Deno KV execution guard acquire (with the state save) failed for job ${job}: ${
          describeThrown(cause)
        }`,
        {
          kind: connection
            ? ExecutionGuardErrorKind.Connection
            : ExecutionGuardErrorKind.Unknown,
          cause,
        },
      );
    }
    throw new StoreError(
      `Deno KV save (with the lease's end) failed for job ${job}: ${
        describeThrown(cause)
      }`,
      {
        kind: connection ? StoreErrorKind.Connection : StoreErrorKind.Unknown,
        operation: StoreOperation.Save,
        cause,
      },
    );
  }
}
