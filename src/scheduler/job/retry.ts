/**
 * Retries of a failed run on the same occurrence: the policy's validation,
 * the backoff delay, and the decision whether to retry, as pure functions.
 *
 * @module
 */

import { OverlapPolicy, RunStatus } from "../../constants.ts";
import { describeThrown, describeValue, invalid } from "../../errors.ts";
import { checkOptions } from "../../_options.ts";

/** The longest backoff accepted: one day. */
export const MAX_BACKOFF_MS = 86_400_000;

/**
 * How a job retries a failed (or timed-out) run on the same occurrence.
 *
 * @example Three attempts in all, 1 s then 5 s apart
 * ```ts
 * import type { RetryPolicy } from "@cloudiful/scheduler";
 * const policy: RetryPolicy = { attempts: 3, backoffMs: [1_000, 5_000] };
 * ```
 */
export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  readonly attempts: number;
  /**
   * The delay before each retry: an array (entry 0 before attempt 2, entry 1
   * before attempt 3, …; the last entry repeats), or a function of the attempt
   * about to start (2, 3, …). Default: no delay.
   */
  readonly backoffMs?: readonly number[] | ((attempt: number) => number);
}

function isDelay(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) &&
    value >= 0 && value <= MAX_BACKOFF_MS;
}

/**
 * Checks a retry policy and returns a frozen copy (an array of delays is
 * copied, so later changes to the caller's array cannot reach the job).
 */
export function validateRetryPolicy(policy: unknown): RetryPolicy {
  if (typeof policy !== "object" || policy === null) {
    throw invalid(
      `withRetry needs { attempts, backoffMs? }, got ${describeValue(policy)}`,
    );
  }
  const { attempts, backoffMs } = checkOptions(
    policy as Record<string, unknown>,
    { what: "withRetry options", known: ["attempts", "backoffMs"] },
  );
  if (
    typeof attempts !== "number" || !Number.isSafeInteger(attempts) ||
    attempts < 1
  ) {
    throw invalid(
      `withRetry attempts must be a positive integer (attempts in all, the first included), got ${
        describeValue(attempts)
      }`,
    );
  }
  if (backoffMs === undefined || typeof backoffMs === "function") {
    return Object.freeze({
      attempts,
      backoffMs: backoffMs as RetryPolicy["backoffMs"],
    });
  }
  if (!Array.isArray(backoffMs) || backoffMs.length === 0) {
    throw invalid(
      `withRetry backoffMs must be a non-empty array of delays or a function, got ${
        describeValue(backoffMs)
      }`,
    );
  }
  const bad = backoffMs.findIndex((delay) => !isDelay(delay));
  if (bad !== -1) {
    throw invalid(
      `withRetry backoffMs[${bad}] must be an integer from 0 to ${MAX_BACKOFF_MS} ms, got ${
        describeValue(backoffMs[bad])
      }`,
    );
  }
  return Object.freeze({
    attempts,
    backoffMs: Object.freeze([...backoffMs]),
  });
}

/**
 * The delay before `attempt` (2, 3, …). A function's answer is checked here:
 * a bad one throws an `InvalidJobError` that names the job and the value,
 * because it cannot be checked when the job is built.
 */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  jobId: string,
): number {
  const backoff = policy.backoffMs;
  if (backoff === undefined) return 0;
  if (typeof backoff !== "function") {
    return backoff[Math.min(attempt - 2, backoff.length - 1)];
  }
  let delay: unknown;
  try {
    delay = backoff(attempt);
  } catch (error) {
    throw invalid(
      `the backoffMs function of job ${
        JSON.stringify(jobId)
      } threw for attempt ${attempt}: ${describeThrown(error)}`,
    );
  }
  if (!isDelay(delay)) {
    throw invalid(
      `the backoffMs function of job ${
        JSON.stringify(jobId)
      } must return an integer from 0 to ${MAX_BACKOFF_MS} ms, got ${
        describeValue(delay)
      } for attempt ${attempt}`,
    );
  }
  return delay;
}

/** Everything the retry decision depends on. */
export interface RetryInput {
  readonly policy: RetryPolicy | undefined;
  /** The attempt that just settled (1-based). */
  readonly attempt: number;
  readonly status: RunStatus;
  /** The backoff before the next attempt (from {@linkcode backoffDelay}). */
  readonly delayMs: number;
  readonly now: number;
  /**
   * When the job's next occurrence starts (its jittered instant), or `null`
   * when there is none.
   */
  readonly nextDueAt: number | null;
  readonly overlapPolicy: OverlapPolicy;
  /** A stop was requested or the run's signal was aborted. */
  readonly stopping: boolean;
}

/**
 * Whether to retry: only a `failed` or `timed-out` attempt with attempts
 * left, while nothing asks the scheduler to stop; and, unless overlap is
 * `allow-parallel`, only when the retry would start before the next
 * occurrence does (a retry never starts past the next occurrence).
 */
export function shouldRetry(input: RetryInput): boolean {
  const { policy, status } = input;
  if (policy === undefined || input.attempt >= policy.attempts) return false;
  if (status !== RunStatus.Failed && status !== RunStatus.TimedOut) {
    return false;
  }
  if (input.stopping) return false;
  if (
    input.overlapPolicy === OverlapPolicy.AllowParallel ||
    input.nextDueAt === null
  ) {
    return true;
  }
  return input.now + input.delayMs < input.nextDueAt;
}
