/**
 * Bounded retry with capped exponential back-off, shared by the Valkey and
 * Deno KV stores and guards: which errors are worth another try is the
 * caller's decision, how long and how often is decided here.
 *
 * Timing reads `Date.now()` and `setTimeout` at call time, so a fake clock
 * installed after this module was loaded drives it.
 *
 * @module
 */

import { InvalidJobKind } from "./constants.ts";
import { describeValue, InvalidJobError } from "./errors.ts";
import { MAX_TIMER_MS } from "./schedule/sleep.ts";

/**
 * The default `retryBudgetMs` of the plain Valkey and Deno KV stores and
 * guards: the Valkey client's longest reconnect back-off (2 s) plus 8 s, so
 * that a server restart of up to about eight seconds goes unnoticed.
 */
export const DEFAULT_RETRY_BUDGET_MS = 10_000;

/** The first pause between two attempts. */
export const FIRST_BACKOFF_MS = 50;
/** The longest pause between two attempts. */
export const MAX_BACKOFF_MS = 1_000;

/** How {@linkcode retryWithBackoff} retries. */
export interface RetryOptions {
  /**
   * How long after the call began a new attempt may still be made; 0 means
   * a single attempt. An attempt after the first that is still waiting when
   * the budget ends is abandoned.
   */
  readonly budgetMs: number;
  /** Whether an error is worth another attempt. */
  readonly retryable: (error: unknown) => boolean;
  /** The first pause (default {@linkcode FIRST_BACKOFF_MS}). */
  readonly firstBackoffMs?: number;
  /** The longest pause (default {@linkcode MAX_BACKOFF_MS}). */
  readonly maxBackoffMs?: number;
  /** A number in [0, 1) for the jitter (default `Math.random`). */
  readonly random?: () => number;
}

/** The parameters of one {@linkcode backoffDelay}. */
export interface BackoffStep {
  readonly firstMs: number;
  readonly maxMs: number;
  /** A number in [0, 1). */
  readonly random: number;
}

/**
 * The pause after failed attempt number `attempt` (from 0): `firstMs`
 * doubling per attempt, capped at `maxMs`, then scaled into [½, 1] of itself
 * so that instances that lost the same server do not come back in lockstep.
 */
export function backoffDelay(attempt: number, step: BackoffStep): number {
  const capped = Math.min(
    step.maxMs,
    step.firstMs * 2 ** Math.min(attempt, 30),
  );
  return capped * (0.5 + step.random / 2);
}

/**
 * Runs `operation`, retrying errors that `retryable` accepts with a capped
 * exponential back-off until `budgetMs` after the call began; then the last
 * error propagates. Other errors propagate at once. The first attempt is
 * never cut short (its own timeout bounds it), so a call settles within the
 * budget or the first attempt's own time, whichever is longer.
 */
export async function retryWithBackoff<T>(
  operation: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { budgetMs, retryable } = options;
  const firstMs = options.firstBackoffMs ?? FIRST_BACKOFF_MS;
  const maxMs = options.maxBackoffMs ?? MAX_BACKOFF_MS;
  const random = options.random ?? Math.random;
  const deadline = Date.now() + budgetMs;
  let lastError: unknown;
  for (let attempt = 0;; attempt++) {
    try {
      return attempt === 0
        ? await operation()
        : await beforeDeadline(operation, deadline, lastError);
    } catch (error) {
      if (!retryable(error)) throw error;
      lastError = error;
      const delay = backoffDelay(attempt, {
        firstMs,
        maxMs,
        random: random(),
      });
      if (Date.now() + delay >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * One attempt that gives up at `deadline` with `lastError` (the outage's
 * error, more telling than "too late"). An abandoned attempt may still
 * settle later; its outcome is ignored.
 */
function beforeDeadline<T>(
  operation: () => Promise<T>,
  deadline: number,
  lastError: unknown,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(lastError),
      Math.max(0, deadline - Date.now()),
    );
    let attempt: Promise<T>;
    try {
      attempt = operation();
    } catch (error) {
      clearTimeout(timer);
      reject(error);
      return;
    }
    Promise.resolve(attempt).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Checks a `retryBudgetMs` option: a whole number of milliseconds from 0 to
 * one hour, {@linkcode DEFAULT_RETRY_BUDGET_MS} when `undefined`.
 *
 * @throws {InvalidJobError} kind `other`, naming `what` and the value.
 */
export function resolveRetryBudget(value: unknown, what: string): number {
  if (value === undefined) return DEFAULT_RETRY_BUDGET_MS;
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 ||
    value > MAX_TIMER_MS
  ) {
    throw new InvalidJobError(
      `${what} retryBudgetMs must be a whole number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${
        describeValue(value)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  return value;
}

/**
 * The budget of a lease renewal: no longer than the lease can still be alive
 * (`ttlMs - renewIntervalMs` after the last renewal); past that the answer
 * can only be "lost", so waiting for it would only delay the run's abort.
 */
export function renewalBudget(
  budgetMs: number,
  lease: { readonly ttlMs: number; readonly renewIntervalMs: number },
): number {
  return Math.min(budgetMs, lease.ttlMs - lease.renewIntervalMs);
}
