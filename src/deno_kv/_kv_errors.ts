/**
 * Deno KV failures: which are transient (retried), which mean the database
 * cannot be used (kind `connection`), a retry loop for the former, and the
 * typed failures of the execution guard's operations.
 *
 * @module
 */

import { ExecutionGuardErrorKind } from "../constants.ts";
import { retryWithBackoff } from "../_retry.ts";
import {
  describeThrown,
  ExecutionGuardError,
  isInstance,
  SchedulerError,
} from "../errors.ts";

/** SQLite reports contention between processes sharing one KV file this way. */
const TRANSIENT = /database (table )?is locked|SQLITE_BUSY/;

/**
 * Whether a KV error is contention that goes away when retried. Our own
 * errors are never contention, whatever their message quotes (a job id
 * such as "busy-report").
 */
export function isTransientKvError(error: unknown): boolean {
  if (isInstance(error, SchedulerError)) return false;
  return TRANSIENT.test(describeThrown(error));
}

/**
 * A database file we may not write (read-only file, mount or permissions):
 * Deno says "Can not write to a read-only database", SQLite "attempt to
 * write a readonly database". Not what is stored, not a bug of ours: the
 * database cannot be used now, like an unreachable server.
 */
const READ_ONLY = /read-only database|readonly database/i;

/** Whether a KV error means the database cannot be reached or used. */
export function isConnectionKvError(error: unknown): boolean {
  if (isInstance(error, SchedulerError)) return false;
  return isTransientKvError(error) ||
    READ_ONLY.test(describeThrown(error)) ||
    isInstance(error, Deno.errors.PermissionDenied) ||
    isInstance(error, Deno.errors.BadResource) ||
    isInstance(error, Deno.errors.Interrupted) ||
    isInstance(error, Deno.errors.ConnectionRefused) ||
    isInstance(error, Deno.errors.ConnectionReset) ||
    isInstance(error, Deno.errors.TimedOut);
}

/** How long the state store retries contention before it reports it. */
export const KV_RETRY_BUDGET_MS = 30_000;
/**
 * How long the execution guard retries contention: long enough that a busy
 * shared file never surfaces as a guard error in practice, bounded so that a
 * database locked for good is reported instead of waited on forever.
 */
export const KV_GUARD_RETRY_BUDGET_MS = 120_000;

/**
 * Runs `operation`, retrying transient contention with a growing, jittered
 * back-off (5 ms doubling, up to 1 s) for up to `budgetMs` (default
 * {@linkcode KV_RETRY_BUDGET_MS}). Other errors propagate at once;
 * contention that outlasts the budget propagates too.
 */
export function retryTransient<T>(
  operation: () => Promise<T>,
  budgetMs: number = KV_RETRY_BUDGET_MS,
): Promise<T> {
  return retryWithBackoff(operation, {
    budgetMs,
    retryable: isTransientKvError,
    firstBackoffMs: 5,
  });
}

/**
 * Connection-class KV errors that may pass with time: not contention (which
 * {@linkcode retryTransient} retries on its own budget) and not a closed
 * `Deno.Kv` handle, which never opens again.
 */
export function isPassingKvError(error: unknown): boolean {
  return isConnectionKvError(error) && !isTransientKvError(error) &&
    !(error instanceof Deno.errors.BadResource);
}

/** The two retry budgets of a KV call. */
export interface KvRetryBudgets {
  /** How long contention ("database is locked") is retried. */
  readonly contentionMs: number;
  /** How long other passing connection errors are retried. */
  readonly connectionMs: number;
}

/**
 * Runs `operation` with contention retried by {@linkcode retryTransient} and
 * other passing connection errors retried around it, each on its own budget.
 */
export function retryKv<T>(
  operation: () => Promise<T>,
  budgets: KvRetryBudgets,
): Promise<T> {
  return retryWithBackoff(
    () => retryTransient(operation, budgets.contentionMs),
    { budgetMs: budgets.connectionMs, retryable: isPassingKvError },
  );
}

/** A KV key as text, e.g. `["scheduler", "execution-lease", "lease", "job", 0]`. */
export function describeKvKey(key: Deno.KvKey): string {
  return `[${
    key.map((part) =>
      typeof part === "string"
        ? JSON.stringify(part)
        : typeof part === "bigint"
        ? `${part}n`
        : part instanceof Uint8Array
        ? `Uint8Array(${part.length})`
        : String(part)
    ).join(", ")
  }]`;
}

/**
 * Runs one execution guard operation with {@linkcode retryKv}, its failures
 * typed: an {@linkcode ExecutionGuardError} passes as it is, anything else
 * is wrapped, kind `connection` for a connection-class KV error.
 */
export async function guardKv<T>(
  call: { operation: string; jobId: string; budgets: KvRetryBudgets },
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await retryKv(body, call.budgets);
  } catch (cause) {
    if (isInstance(cause, ExecutionGuardError)) throw cause;
    throw new ExecutionGuardError(
      `Deno KV execution guard ${call.operation} failed for job ${
        JSON.stringify(call.jobId)
      }: ${describeThrown(cause)}`,
      {
        kind: isConnectionKvError(cause)
          ? ExecutionGuardErrorKind.Connection
          : ExecutionGuardErrorKind.Unknown,
        cause,
      },
    );
  }
}
