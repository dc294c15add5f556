/**
 * Deno KV failures: which are transient (retried), which mean the database
 * cannot be used (kind `connection`), and a retry loop for the former.
 *
 * @module
 */

import { describeThrown, isInstance, SchedulerError } from "../errors.ts";

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
 * back-off (up to 1 s) for up to `budgetMs` (default
 * {@linkcode KV_RETRY_BUDGET_MS}). Other errors propagate at once;
 * contention that outlasts the budget propagates too.
 */
export async function retryTransient<T>(
  operation: () => Promise<T>,
  budgetMs: number = KV_RETRY_BUDGET_MS,
): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 0;; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isTransientKvError(error) || Date.now() >= deadline) throw error;
      const backoff = Math.min(1_000, 5 * 2 ** attempt) *
        (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }
}
