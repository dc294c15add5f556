/**
 * What a `Scheduler` is built from — its state store, execution guard and
 * observer: the checks they must pass, the forwarding of their events into
 * the scheduler's own, and the call into the observer.
 *
 * @module
 */

import {
  describeThrown,
  describeValue,
  invalid,
  SchedulerError,
} from "../errors.ts";
import {
  type ExecutionGuard,
  NoopExecutionGuard,
} from "../guard/execution_guard.ts";
import type { FencingResetDetail } from "../guard/fencing.ts";
import type { StateStore, StoreEventDetail } from "../store/state_store.ts";
import { SCHEDULER_EVENT_TYPES, type SchedulerEvent } from "./events/events.ts";
import { NoopObserver, type SchedulerObserver } from "./events/observer.ts";
import { checkOptions } from "../_options.ts";
import { Job } from "./job/job.ts";
import type { ResolvedConfig } from "./job/config.ts";
import type { RunView } from "./loop/_run_view.ts";

function requireMethods(
  what: string,
  value: unknown,
  methods: readonly string[],
): void {
  const missing = methods.filter((method) =>
    typeof (value as Record<string, unknown> | null)?.[method] !== "function"
  );
  if (missing.length > 0) {
    throw invalid(`${what} must have method(s) ${missing.join(", ")}`);
  }
}

/**
 * Refuses a store, guard or observer that lacks a method the scheduler
 * calls, at construction rather than at the first run.
 */
export function requireParts(
  store: StateStore,
  guard: ExecutionGuard,
  observer: SchedulerObserver | undefined,
): void {
  requireMethods("the state store", store, ["load", "save", "delete"]);
  requireMethods("the execution guard", guard, ["acquire", "renew", "release"]);
  const renewIntervalMs = (guard as { renewIntervalMs?: unknown })
    .renewIntervalMs;
  if (renewIntervalMs !== undefined && typeof renewIntervalMs !== "function") {
    throw invalid(
      `the execution guard's renewIntervalMs must be a method, got ${
        describeValue(renewIntervalMs)
      }`,
    );
  }
  if (observer !== undefined) {
    requireMethods("the observer", observer, ["onEvent"]);
  }
}

/**
 * The guard and observer of the `Scheduler` constructor's options, once they
 * and the store are checked: a missing guard is the single-instance guard,
 * `null` is refused (every instance would run every occurrence, without a
 * word), and a `NoopObserver` is no observer.
 */
export function schedulerParts(
  store: StateStore,
  options: { readonly guard?: ExecutionGuard; readonly observer?: unknown },
): { guard: ExecutionGuard; observer: SchedulerObserver | undefined } {
  checkOptions(options, {
    what: "Scheduler options",
    known: ["observer", "guard"],
    notNull: ["guard"],
  });
  const guard = options.guard ?? new NoopExecutionGuard();
  const observer = options.observer as SchedulerObserver | undefined;
  requireParts(store, guard, observer);
  return {
    guard,
    observer: observer instanceof NoopObserver ? undefined : observer,
  };
}

/**
 * The options a factory such as `Scheduler.withExecutionGuard()` builds from
 * the one argument it exists for: that argument must be given, since
 * `undefined` or `null` would quietly mean "none" (for a guard: every
 * instance runs every occurrence).
 */
export function factoryOptions<T extends object>(
  factory: string,
  options: T,
): T {
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === null) {
      throw invalid(
        `Scheduler.${factory}() needs ${
          name === "observer" ? "an" : "a"
        } ${name}, got ${describeValue(value)}`,
      );
    }
  }
  return options;
}

/**
 * Refuses a second `run()` while one is active (one job at a time) and
 * anything but a `Job`.
 */
export function requireRunnable(
  job: unknown,
  runningJobId: string | undefined,
): void {
  if (runningJobId !== undefined) {
    throw new SchedulerError(
      `this scheduler is already running job ${
        JSON.stringify(runningJobId)
      }; a scheduler runs one job at a time (create another Scheduler)`,
    );
  }
  if (!(job instanceof Job)) {
    throw invalid(`run() needs a Job, got ${describeValue(job)}`);
  }
}

/** A listener for an event that never comes is a typo, not a choice. */
export function requireEventType(type: unknown): void {
  if (!(SCHEDULER_EVENT_TYPES as readonly unknown[]).includes(type)) {
    throw invalid(
      `the scheduler has no event ${describeValue(type)}; its events are ${
        SCHEDULER_EVENT_TYPES.join(", ")
      }`,
    );
  }
}

/** The `signal` of `run()`'s options, once the options are checked. */
export function runSignal(
  options: { readonly signal?: AbortSignal },
): AbortSignal | undefined {
  checkOptions(options, { what: "run() options", known: ["signal"] });
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalid(
      `run() option signal must be an AbortSignal, got ${
        describeValue(signal)
      }`,
    );
  }
  return signal;
}

const STORE_EVENTS = ["store-degraded", "store-recovered"] as const;

/**
 * Re-emits, for the duration of one `run()`, the store's degraded and
 * recovered events and the guard's fencing resets of this job as scheduler
 * events; returns what detaches the listeners again.
 */
export function forwardPartEvents(options: {
  readonly store: StateStore;
  readonly guard: ExecutionGuard;
  readonly jobId: string;
  readonly dispatch: (event: SchedulerEvent) => void;
}): () => void {
  const { jobId, dispatch } = options;
  const forward = (event: Event) => {
    const detail = (event as CustomEvent<StoreEventDetail>).detail;
    if (detail?.type === "store-degraded") {
      dispatch({
        type: "store-degraded",
        jobId,
        operation: detail.operation,
        error: detail.error ?? "",
        ...(detail.errorKind === undefined
          ? {}
          : { errorKind: detail.errorKind }),
      });
    } else if (detail?.type === "store-recovered") {
      dispatch({
        type: "store-recovered",
        jobId,
        operation: detail.operation,
        ...(detail.note === undefined ? {} : { note: detail.note }),
      });
    }
  };
  const storeEvents = options.store instanceof EventTarget
    ? options.store
    : undefined;
  for (const type of STORE_EVENTS) {
    storeEvents?.addEventListener(type, forward);
  }
  const guardEvents = options.guard instanceof EventTarget
    ? options.guard
    : undefined;
  const forwardReset = (event: Event) => {
    const detail = (event as CustomEvent<FencingResetDetail>).detail;
    // A guard may serve several schedulers: only this job's counter.
    if (detail?.type === "fencing-reset" && detail.jobId === jobId) {
      dispatch({
        type: "fencing-reset",
        jobId,
        previousFencingToken: detail.previousFencingToken,
        fencingToken: detail.fencingToken,
      });
    }
  };
  guardEvents?.addEventListener("fencing-reset", forwardReset);
  return () => {
    for (const type of STORE_EVENTS) {
      storeEvents?.removeEventListener(type, forward);
    }
    guardEvents?.removeEventListener("fencing-reset", forwardReset);
  };
}

/**
 * Calls the observer; a throwing or rejecting observer is logged and never
 * disturbs scheduling.
 */
export function notifyObserver(
  observer: SchedulerObserver,
  detail: SchedulerEvent,
): void {
  const report = (error: unknown) =>
    console.error(
      `the scheduler observer failed on "${detail.type}"; scheduling goes on: ${
        describeThrown(error)
      }`,
    );
  try {
    // An async onEvent satisfies the type too: its rejection must not
    // become an unhandled rejection (which ends a Deno process).
    const result: unknown = observer.onEvent(detail);
    if (
      typeof result === "object" && result !== null &&
      typeof (result as PromiseLike<unknown>).then === "function"
    ) {
      Promise.resolve(result).catch(report);
    }
  } catch (error) {
    report(error);
  }
}

/** What the handles see of a `run()` of `job`. */
export function activeRun<D>(
  job: Job<D>,
  store: StateStore,
  config: ResolvedConfig,
): RunView {
  let markLoaded!: () => void;
  const loaded = new Promise<void>((resolve) => markLoaded = resolve);
  return {
    jobId: job.jobId,
    store,
    schedule: job.schedule,
    maxRuns: job.maxRuns,
    timezone: config.timezone,
    dst: config.dst,
    loaded,
    markLoaded,
  };
}
