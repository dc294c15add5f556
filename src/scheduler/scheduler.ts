/**
 * The `Scheduler`: runs one job at a time against a state store, an optional
 * execution guard and an optional observer, and emits its events.
 *
 * @module
 */

import { jsonSafe } from "../_json_tokens.ts";
import type { ExecutionGuard } from "../guard/execution_guard.ts";
import { GuardedListeners } from "../_guarded_listeners.ts";
import type { StateStore } from "../store/state_store.ts";
import {
  resolveConfig,
  type ResolvedConfig,
  type SchedulerConfig,
} from "./job/config.ts";
import { SchedulerHandle } from "./control.ts";
import { ControlState } from "./loop/_control_state.ts";
import { Engine } from "./loop/_engine.ts";
import { takeResume } from "./loop/_resume.ts";
import type { SchedulerEvent, SchedulerEventMap } from "./events/events.ts";
import type { Job } from "./job/job.ts";
import { LogObserver, type SchedulerObserver } from "./events/observer.ts";
import type { SchedulerReport } from "./events/report.ts";
import {
  activeRun,
  factoryOptions,
  forwardPartEvents,
  notifyObserver,
  requireEventType,
  requireRunnable,
  runSignal,
  schedulerParts,
} from "./_scheduler_parts.ts";
import { runTelemetryFor } from "../telemetry/_gate.ts";

/**
 * Options of the {@linkcode Scheduler} constructor.
 *
 * @example
 * ```ts
 * import { NoopExecutionGuard, type SchedulerOptions } from "@cloudiful/scheduler";
 * const options: SchedulerOptions = { guard: new NoopExecutionGuard() };
 * ```
 */
export interface SchedulerOptions {
  /** Receives every event synchronously. */
  observer?: SchedulerObserver;
  /** Decides which instance runs each occurrence. Default: no coordination. */
  guard?: ExecutionGuard;
}

/**
 * Options of {@linkcode Scheduler.run}.
 *
 * @example
 * ```ts
 * import type { RunOptions } from "@cloudiful/scheduler";
 * const options: RunOptions = { signal: new AbortController().signal };
 * ```
 */
export interface RunOptions {
  /** Aborting it cancels the run, as `handle().cancel(signal.reason)`. */
  signal?: AbortSignal;
}

/**
 * Runs one logical job at a time: loads its state, fires it on schedule
 * under the missed-run and overlap policies, persists progress, and emits
 * events as `CustomEvent`s (and to the observer).
 *
 * Listeners are isolated: one that throws is logged and never disturbs
 * scheduling.
 *
 * @example Run a job five times, every two seconds
 * ```ts
 * import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "@cloudiful/scheduler";
 * const scheduler = new Scheduler({ timezone: "Europe/Berlin" }, new InMemoryStateStore());
 * scheduler.addEventListener("run-completed", (event) => {
 *   console.log(event.detail.triggerCount, event.detail.status);
 * });
 * const beat = Task.fromSync(({ run }) => console.log(run.scheduledAt));
 * const job = Job.withoutDeps("heartbeat", Schedule.interval(20), beat).withMaxRuns(5);
 * const report = await scheduler.run(job);
 * console.log(report.stopReason, report.history.length); // terminal 5
 * ```
 */
export class Scheduler extends EventTarget {
  readonly #config: ResolvedConfig;
  readonly #store: StateStore;
  readonly #guard: ExecutionGuard;
  readonly #observer: SchedulerObserver | undefined;
  readonly #control = new ControlState();
  #runningJobId: string | undefined;
  readonly #listeners = new GuardedListeners(
    this,
    (type, listener, options) =>
      super.addEventListener(type, listener, options),
    (type, listener, options) =>
      super.removeEventListener(type, listener, options),
  );

  /**
   * Builds a scheduler.
   *
   * @param config Validated here; see {@linkcode SchedulerConfig}.
   * @param store Where job states are persisted.
   * @param options An `observer` and an execution `guard`.
   * @throws {InvalidJobError} kind `timezone` for an unknown zone, kind
   * `other` for any other invalid config value (a `null` config or guard
   * included: only a missing one takes its default) or a store, guard or
   * observer without the required methods.
   */
  constructor(
    config: SchedulerConfig,
    store: StateStore,
    options: SchedulerOptions = {},
  ) {
    super();
    const { guard, observer } = schedulerParts(store, options);
    this.#config = resolveConfig(config);
    this.#store = store;
    this.#guard = guard;
    this.#observer = observer;
  }

  /**
   * A scheduler whose events also go to `observer`.
   *
   * @throws {InvalidJobError} kind `other` when `observer` is `undefined` or
   * `null` (the point of this factory), or as the constructor.
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * const scheduler = Scheduler.withObserver({}, new InMemoryStateStore(), {
   *   onEvent: (event) => console.log(event.type),
   * });
   * ```
   */
  static withObserver(
    config: SchedulerConfig,
    store: StateStore,
    observer: SchedulerObserver,
  ): Scheduler {
    return new Scheduler(
      config,
      store,
      factoryOptions("withObserver", { observer }),
    );
  }

  /**
   * A scheduler that logs every event with a {@linkcode LogObserver}.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * const scheduler = Scheduler.withLogObserver({ timezone: "UTC" }, new InMemoryStateStore());
   * ```
   */
  static withLogObserver(
    config: SchedulerConfig,
    store: StateStore,
  ): Scheduler {
    return new Scheduler(config, store, { observer: new LogObserver() });
  }

  /**
   * A scheduler whose runs are coordinated by `guard`.
   *
   * @throws {InvalidJobError} kind `other` when `guard` is `undefined` or
   * `null`: a guard that failed to open would otherwise leave every instance
   * running every occurrence; pass a `NoopExecutionGuard` for none.
   * @example
   * ```ts
   * import { InMemoryStateStore, NoopExecutionGuard, Scheduler } from "@cloudiful/scheduler";
   * const scheduler = Scheduler.withExecutionGuard({}, new InMemoryStateStore(), new NoopExecutionGuard());
   * ```
   */
  static withExecutionGuard(
    config: SchedulerConfig,
    store: StateStore,
    guard: ExecutionGuard,
  ): Scheduler {
    return new Scheduler(
      config,
      store,
      factoryOptions("withExecutionGuard", { guard }),
    );
  }

  /**
   * A handle to stop, pause and resume this scheduler from elsewhere.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * const handle = new Scheduler({}, new InMemoryStateStore()).handle();
   * console.log(handle.paused); // false
   * ```
   */
  handle(): SchedulerHandle {
    return new SchedulerHandle(this.#control);
  }

  /**
   * Runs `job` until its schedule is exhausted (`terminal`), it is cancelled
   * (`cancel()` or `signal`) or shut down; in-flight runs settle and are
   * recorded first.
   *
   * @param job The job to run.
   * @param options `signal`: aborting it cancels the run.
   * @returns The final state, the recent runs and why it stopped.
   * @throws {SchedulerError} when another `run()` of this scheduler is active.
   * @throws {StoreError} when the state store fails (after in-flight runs settle).
   * @throws {ExecutionGuardError} when the guard fails to acquire.
   * @throws {TaskJoinError} kind `panic` when a worker task crashes.
   * @throws {InvalidJobError} for an invalid job or an interval too large for
   * the `Date` range.
   *
   * @example Stop with an AbortSignal
   * ```ts
   * import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "@cloudiful/scheduler";
   * const scheduler = new Scheduler({}, new InMemoryStateStore());
   * const job = Job.withoutDeps("sync", Schedule.cron("0 * * * *"), Task.fromSync(() => {}));
   * const report = await scheduler.run(job, { signal: AbortSignal.timeout(10) });
   * console.log(report.stopReason); // cancelled
   * ```
   */
  async run<D>(
    job: Job<D>,
    options: RunOptions = {},
  ): Promise<SchedulerReport> {
    requireRunnable(job, this.#runningJobId);
    const signal = runSignal(options);
    this.#runningJobId = job.jobId;
    const onAbort = () => this.#control.cancel(signal!.reason);
    const detachParts = forwardPartEvents({
      store: this.#store,
      guard: this.#guard,
      jobId: job.jobId,
      dispatch: (event) => this.#dispatch(event),
    });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    const active = activeRun(job, this.#store, this.#config);
    this.#control.attachRun(active);
    const resume = takeResume(options, active);
    let finished = false;
    const telemetry = runTelemetryFor(this);
    // Runs once, before scheduler-stopped is dispatched: a listener of that
    // event may already start the next run().
    const finish = () => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener("abort", onAbort);
      detachParts();
      telemetry?.detach();
      this.#control.finishRun();
      this.#runningJobId = undefined;
    };
    try {
      const report = await new Engine({
        job,
        config: this.#config,
        store: this.#store,
        guard: this.#guard,
        control: this.#control,
        tracer: telemetry?.tracer,
        ready: telemetry?.ready,
        resume,
        listens: (type) => type === "state-loaded" || this.#listens(type),
        dispatch: (event) => {
          if (event.type === "state-loaded") active.markLoaded();
          this.#dispatch(event);
        },
        finish,
      }).run();
      this.#control.settleRun({ report }, finish);
      return report;
    } catch (error) {
      telemetry?.failed(job.jobId, error);
      this.#control.settleRun({ error }, finish);
      throw error;
    }
  }

  #listens(type: SchedulerEvent["type"]): boolean {
    return this.#observer !== undefined || this.#listeners.has(type);
  }

  #dispatch(event: SchedulerEvent): void {
    const detail = jsonSafe(event);
    const observer = this.#observer;
    const type = detail.type;
    if (observer !== undefined) notifyObserver(observer, detail);
    if (this.#listeners.has(type)) {
      this.dispatchEvent(new CustomEvent(type, { detail }));
    }
  }

  /**
   * Listens for a scheduler event; `event.detail` is the typed event. A
   * listener that throws is logged and does not disturb scheduling.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * const scheduler = new Scheduler({}, new InMemoryStateStore());
   * scheduler.addEventListener("run-skipped", (event) => {
   *   console.warn(`${event.detail.count} occurrence(s) skipped: ${event.detail.reason}`);
   * });
   * ```
   */
  override addEventListener<K extends keyof SchedulerEventMap>(
    type: K,
    listener: (
      this: Scheduler,
      event: CustomEvent<SchedulerEventMap[K]>,
    ) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Listens for a scheduler event with any listener `EventTarget` accepts.
   * The type must be one of the scheduler's events: a misspelt one such as
   * `"run-complete"` fails type checking, and throws at run time.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * new Scheduler({}, new InMemoryStateStore()).addEventListener("state-loaded", {
   *   handleEvent: (event: Event) => console.log(event.type),
   * });
   * ```
   */
  override addEventListener(
    type: keyof SchedulerEventMap,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: unknown,
    options?: boolean | AddEventListenerOptions,
  ): void {
    requireEventType(type);
    this.#listeners.add(
      type,
      listener as EventListenerOrEventListenerObject | null,
      options,
    );
  }

  /**
   * Removes a listener added with {@linkcode Scheduler.addEventListener}.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * const scheduler = new Scheduler({}, new InMemoryStateStore());
   * const listener = () => {};
   * scheduler.addEventListener("run-completed", listener);
   * scheduler.removeEventListener("run-completed", listener);
   * ```
   */
  override removeEventListener<K extends keyof SchedulerEventMap>(
    type: K,
    listener: (
      this: Scheduler,
      event: CustomEvent<SchedulerEventMap[K]>,
    ) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Removes a listener of a scheduler event given as any `EventTarget`
   * listener.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
   * new Scheduler({}, new InMemoryStateStore()).removeEventListener("state-loaded", null);
   * ```
   */
  override removeEventListener(
    type: keyof SchedulerEventMap,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: unknown,
    options?: boolean | EventListenerOptions,
  ): void {
    this.#listeners.remove(
      type,
      listener as EventListenerOrEventListenerObject | null,
      options,
    );
  }
}
