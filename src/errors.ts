/**
 * The error classes of the library. Every error that `Scheduler.run()` rejects
 * with, and every error a constructor throws for bad input, is a
 * {@linkcode SchedulerError}; the subclasses carry a `kind`.
 *
 * Runtime-neutral.
 *
 * @module
 */

import {
  type ExecutionGuardErrorKind,
  InvalidJobKind,
  type StoreErrorKind,
  type StoreOperation,
  type TaskJoinErrorKind,
  type TriggerNowErrorKind,
} from "./constants.ts";

/**
 * The base class of every error of this library. It is also thrown on its own
 * for misuse that has no finer class, such as a second concurrent
 * `Scheduler.run()`.
 *
 * @example Catch every scheduler error
 * ```ts
 * import { SchedulerError, Schedule } from "@cloudiful/scheduler";
 * try {
 *   Schedule.interval(0);
 * } catch (error) {
 *   console.log(error instanceof SchedulerError); // true
 * }
 * ```
 */
export class SchedulerError extends Error {
  /**
   * Builds an error with a message and an optional cause.
   *
   * @param message What was wrong, with the offending value or job id.
   * @param options `cause`: the underlying error, if any.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A job, schedule or configuration is invalid. Thrown synchronously by the
 * constructor or builder that received the bad value.
 *
 * @example
 * ```ts
 * import { InvalidJobError, Schedule } from "@cloudiful/scheduler";
 * try {
 *   Schedule.cron("@reboot");
 * } catch (error) {
 *   if (error instanceof InvalidJobError) console.log(error.kind); // "cron-expression"
 * }
 * ```
 */
export class InvalidJobError extends SchedulerError {
  /** What kind of input was wrong. */
  readonly kind: InvalidJobKind;

  /**
   * Builds the error.
   *
   * @param message What was wrong and with which value.
   * @param options `kind`: the class of the problem.
   */
  constructor(message: string, options: { kind: InvalidJobKind }) {
    super(message);
    this.kind = options.kind;
  }
}

/** An {@linkcode InvalidJobError} of kind `other` with `message`. */
export function invalid(message: string): InvalidJobError {
  return new InvalidJobError(message, { kind: InvalidJobKind.Other });
}

/**
 * A state store failed. `kind` says whether the backend could not be reached
 * (`connection`), what it holds does not decode (`data`), or neither
 * (`unknown`); `operation` says which call failed.
 *
 * @example A custom store reports an outage
 * ```ts
 * import { StoreError } from "@cloudiful/scheduler";
 * const error = new StoreError("backend unreachable", {
 *   kind: "connection",
 *   operation: "save",
 * });
 * console.log(error.kind, error.operation); // connection save
 * ```
 */
export class StoreError extends SchedulerError {
  /** The class of the failure. */
  readonly kind: StoreErrorKind;
  /** The store operation that failed, when known. */
  readonly operation: StoreOperation | undefined;

  /**
   * Builds the error.
   *
   * @param message What failed, naming the job id where there is one.
   * @param options `kind`, the failed `operation` and the underlying `cause`.
   */
  constructor(
    message: string,
    options: {
      kind: StoreErrorKind;
      operation?: StoreOperation;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.kind = options.kind;
    this.operation = options.operation;
  }
}

/**
 * An execution guard failed to acquire, or was configured with an invalid
 * lease (`kind` `data`).
 *
 * @example
 * ```ts
 * import { ExecutionGuardError } from "@cloudiful/scheduler";
 * const error = new ExecutionGuardError("lock server down", { kind: "connection" });
 * console.log(error.kind); // connection
 * ```
 */
export class ExecutionGuardError extends SchedulerError {
  /** The class of the failure. */
  readonly kind: ExecutionGuardErrorKind;

  /**
   * Builds the error.
   *
   * @param message What failed.
   * @param options `kind` and the underlying `cause`.
   */
  constructor(
    message: string,
    options: { kind: ExecutionGuardErrorKind; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.kind = options.kind;
  }
}

/**
 * A task could not be joined: a worker task crashed, failed to load or exited
 * before it settled (`panic`).
 *
 * @example
 * ```ts
 * import { TaskJoinError } from "@cloudiful/scheduler";
 * const error = new TaskJoinError("worker exited", { kind: "panic" });
 * console.log(error.kind); // panic
 * ```
 */
export class TaskJoinError extends SchedulerError {
  /** The class of the failure. */
  readonly kind: TaskJoinErrorKind;

  /**
   * Builds the error.
   *
   * @param message What happened to the task.
   * @param options `kind` and the underlying `cause`.
   */
  constructor(
    message: string,
    options: { kind: TaskJoinErrorKind; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.kind = options.kind;
  }
}

/**
 * `SchedulerHandle.triggerNow()` did not run the task; `kind` says why.
 *
 * @example
 * ```ts
 * import { TriggerNowError } from "@cloudiful/scheduler";
 * const error = new TriggerNowError("a run is active", { kind: "overlap" });
 * console.log(error.kind); // overlap
 * ```
 */
export class TriggerNowError extends SchedulerError {
  /** Why the manual run did not happen. */
  readonly kind: TriggerNowErrorKind;

  /**
   * Builds the error.
   *
   * @param message Why the manual run did not happen, naming the job.
   * @param options `kind` and the underlying `cause`.
   */
  constructor(
    message: string,
    options: { kind: TriggerNowErrorKind; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.kind = options.kind;
  }
}

/** The longest failure message recorded in a run record or `lastError`. */
export const MAX_RECORDED_ERROR_LENGTH = 4096;

/**
 * A task's failure as recorded: its message, cut to
 * {@linkcode MAX_RECORDED_ERROR_LENGTH} characters so that one huge message
 * cannot make the job's state too large to store (Deno KV refuses values
 * over 64 KiB).
 */
export function recordedError(thrown: unknown): string {
  const message = describeThrown(thrown);
  if (message.length <= MAX_RECORDED_ERROR_LENGTH) return message;
  return `${message.slice(0, MAX_RECORDED_ERROR_LENGTH)}… (${
    message.length - MAX_RECORDED_ERROR_LENGTH
  } more characters)`;
}

/**
 * Shows a value in an error message: strings quoted, numbers and the like as
 * written, objects as (shortened) JSON. Never throws, whatever the value.
 */
export function describeValue(value: unknown): string {
  try {
    switch (typeof value) {
      case "string":
        return JSON.stringify(
          value.length > 200 ? `${value.slice(0, 200)}…` : value,
        );
      case "bigint":
        return `${value}n`;
      case "symbol":
        return value.toString();
      case "function":
        return `function ${value.name || "(anonymous)"}`;
      case "object": {
        if (value === null) return "null";
        if (isInstance(value, Date)) {
          return Number.isNaN(value.getTime())
            ? "Invalid Date"
            : value.toISOString();
        }
        const json = JSON.stringify(value);
        if (json !== undefined) {
          return json.length > 200 ? `${json.slice(0, 200)}…` : json;
        }
        break;
      }
      default:
        return String(value);
    }
  } catch {
    // cyclic, BigInt fields, throwing getters or proxies: fall through
  }
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return "an unprintable value";
  }
}

/**
 * `value instanceof type`, but never throws: a thrown value can be a revoked
 * or hostile `Proxy` whose `getPrototypeOf` trap throws, and inspecting what
 * a task or a custom store threw must not break the scheduler.
 */
export function isInstance<T>(
  value: unknown,
  // deno-lint-ignore no-explicit-any
  type: abstract new (...args: any[]) => T,
): value is T {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

/**
 * Renders any thrown value as a readable one-line message: an `Error`'s
 * message, a string as is, anything else through {@linkcode describeValue}.
 * Never throws.
 */
export function describeThrown(value: unknown): string {
  try {
    if (typeof value === "string") {
      return value === "" ? "an empty string was thrown" : value;
    }
    if (value === undefined) return "undefined was thrown";
    if (value === null) return "null was thrown";
    if (typeof value === "object") {
      const message = (value as { message?: unknown }).message;
      if (typeof message === "string" && message !== "") return message;
      if (isInstance(value, Error)) {
        const name = typeof value.name === "string" && value.name !== ""
          ? value.name
          : "Error";
        return message === undefined || message === ""
          ? `${name} without a message`
          : `${name} with message ${describeValue(message)}`;
      }
    }
  } catch {
    // a throwing `message` getter or a hostile proxy
  }
  return describeValue(value);
}
