/**
 * The persisted state of a job and the shape checks every store relies on.
 *
 * Runtime-neutral.
 *
 * @module
 */

/**
 * What is persisted for one job id: how many occurrences were consumed, when
 * the job last ran and succeeded, when it runs next (`null` = the schedule is
 * exhausted), and the last failure.
 *
 * @example
 * ```ts
 * import type { JobState } from "@cloudiful/scheduler";
 * const state: JobState = {
 *   jobId: "refresh",
 *   triggerCount: 0,
 *   lastRunAt: null,
 *   lastSuccessAt: null,
 *   nextRunAt: new Date("2026-04-03T01:00:00Z"),
 *   lastError: null,
 * };
 * console.log(state.jobId); // refresh
 * ```
 */
export interface JobState {
  /** The job id this state belongs to. */
  jobId: string;
  /** Occurrences consumed so far: run, skipped, merged, dropped or contended. */
  triggerCount: number;
  /** Start of the most recently completed run. */
  lastRunAt: Date | null;
  /** Finish of the most recent successful run. */
  lastSuccessAt: Date | null;
  /** The next occurrence not yet consumed; `null` when exhausted. */
  nextRunAt: Date | null;
  /** The error of the most recent failed run; cleared by a success. */
  lastError: string | null;
  /**
   * The fingerprint of the job definition that produced this state (see the
   * README's "Reconciliation"); absent in states written by the Rust crate
   * or older versions. The built-in stores carry it as a non-enumerable
   * property, and the states the scheduler saves read it through their
   * prototype, so that copies (`{ ...state }`, JSON) and listings of keys
   * leave it out; a custom store that wants reconciliation persists
   * `state.definition` and hands it back.
   */
  readonly definition?: string;
}

function copyDate(date: Date | null): Date | null {
  return date === null ? null : new Date(date.getTime());
}

/** A deep copy of a state (fresh `Date` objects), fingerprint included. */
export function copyJobState(state: JobState): JobState {
  return withDefinition({
    jobId: state.jobId,
    triggerCount: state.triggerCount,
    lastRunAt: copyDate(state.lastRunAt),
    lastSuccessAt: copyDate(state.lastSuccessAt),
    nextRunAt: copyDate(state.nextRunAt),
    lastError: state.lastError,
  }, state.definition);
}

/**
 * `state` carrying `definition` as a non-enumerable property (replacing
 * any), or left without one when `definition` is `undefined`. Changes
 * `state` in place and returns it.
 */
export function withDefinition<S extends JobState>(
  state: S,
  definition: string | undefined,
): S {
  if (typeof definition === "string" && state.definition !== definition) {
    Object.defineProperty(state, "definition", {
      value: definition,
      enumerable: false,
      configurable: true,
      writable: false,
    });
  }
  return state;
}

/**
 * A state the scheduler saves: the fields as own enumerable properties, and
 * the definition fingerprint read through the prototype, so that copies
 * (`{ ...state }`, JSON, `structuredClone`) and listings of its keys leave it
 * out, as they do a non-enumerable property. Building one costs what a plain
 * object does; attaching a non-enumerable property to each saved state cost
 * about 0.2 µs, twice a run.
 */
class SavedJobState implements JobState {
  jobId: string;
  triggerCount: number;
  lastRunAt: Date | null;
  lastSuccessAt: Date | null;
  nextRunAt: Date | null;
  lastError: string | null;
  readonly #definition: string;

  constructor(state: Readonly<JobState>, definition: string) {
    this.jobId = state.jobId;
    this.triggerCount = state.triggerCount;
    this.lastRunAt = state.lastRunAt;
    this.lastSuccessAt = state.lastSuccessAt;
    this.nextRunAt = state.nextRunAt;
    this.lastError = state.lastError;
    this.#definition = definition;
  }

  get definition(): string {
    return this.#definition;
  }
}

/**
 * The state to hand to `save()`: `state`'s fields (sharing its `Date`s) with
 * `definition` as its fingerprint; `state` itself when it already carries it.
 */
export function savedState(
  state: Readonly<JobState>,
  definition: string,
): JobState {
  return state.definition === definition
    ? state
    : new SavedJobState(state, definition);
}

function notInstant(field: string): string {
  return `${field} is neither a valid Date nor null`;
}

/**
 * The runtime's own `Date`, taken when this module loads. A fake clock's
 * `Date` (sinon's, std's `FakeTime`) extends it, so its instances are
 * instances of this one too, and asking this one skips the fake's own
 * `Symbol.hasInstance` on every save.
 */
const NativeDate = Date;

function isInstantOrNull(value: unknown): boolean {
  return value === null ||
    (value instanceof NativeDate && !Number.isNaN(value.getTime()));
}

/**
 * Why a value is not a well-formed {@linkcode JobState}, or `undefined` when
 * it is one. Used on what custom stores hand back, so that a broken store is
 * reported as a data error instead of corrupting the schedule.
 */
export function jobStateProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) {
    return `expected an object, got ${value === null ? "null" : typeof value}`;
  }
  const state = value as Record<string, unknown>;
  if (typeof state.jobId !== "string") return "jobId is not a string";
  if (
    typeof state.triggerCount !== "number" ||
    !Number.isSafeInteger(state.triggerCount) || state.triggerCount < 0
  ) {
    return `triggerCount ${
      String(state.triggerCount)
    } is not a non-negative integer`;
  }
  // Unrolled: every save of every store passes here.
  if (!isInstantOrNull(state.lastRunAt)) return notInstant("lastRunAt");
  if (!isInstantOrNull(state.lastSuccessAt)) {
    return notInstant("lastSuccessAt");
  }
  if (!isInstantOrNull(state.nextRunAt)) return notInstant("nextRunAt");
  if (state.lastError !== null && typeof state.lastError !== "string") {
    return "lastError is neither a string nor null";
  }
  if (state.definition !== undefined && typeof state.definition !== "string") {
    return "definition is neither a string nor absent";
  }
  return undefined;
}
