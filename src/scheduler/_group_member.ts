/**
 * One job of a `JobGroup`, asleep until it is due: its handle, its loaded
 * state and its definition, without a `Scheduler`, an engine or a timer.
 * The group's clock (`_group_clock.ts`) wakes it a little before its next
 * occurrence; using the handle (its scheduler, pause, triggerNow, nextRun…)
 * wakes it at once. Awake, it is an ordinary `run()` that starts from the
 * state loaded here, so it keeps every guarantee of a single job; once it
 * would sleep until an occurrence that is not near, the run ends without a
 * word (`loop/_resume.ts`) and the job sleeps on the group's clock again
 * (docs/jobs.md, "How a group sleeps").
 *
 * Runtime-neutral.
 *
 * @module
 */

import { SchedulerStopReason } from "../constants.ts";
import { jsonSafe } from "../_json_tokens.ts";
import { NoopExecutionGuard } from "../guard/execution_guard.ts";
import { copyJobState, type JobState } from "../store/job_state.ts";
import type { SchedulerEvent } from "./events/events.ts";
import type { SchedulerObserver } from "./events/observer.ts";
import {
  RunHistory,
  type RunRecord,
  type SchedulerReport,
} from "./events/report.ts";
import type { ResolvedConfig } from "./job/config.ts";
import type { Job } from "./job/job.ts";
import { Jitter } from "./job/_jitter.ts";
import type { TriggerNowOptions } from "./run/manual.ts";
import { loadJobState } from "./loop/_state_effects.ts";
import { isRested, RESUME, type Resume } from "./loop/_resume.ts";
import { nextMacrotask } from "./loop/_wake_clock.ts";
import { defaultCancelReason } from "./loop/_control_state.ts";
import type { SchedulerHandle } from "./control.ts";
import { notifyObserver } from "./_scheduler_parts.ts";
import { ScheduledJob } from "./scheduled_job.ts";
import { type RunOptions, Scheduler } from "./scheduler.ts";
import type { ClockEntry } from "./_group_clock.ts";
import {
  type MemberHost,
  restingScheduler,
  WAKE_LEAD_MS,
} from "./_member_host.ts";
import { LazyOutcome } from "./_lazy_outcome.ts";

/**
 * `resting`: the run decided to sleep on the group's clock and is ending;
 * what happens meanwhile is applied once it has ended.
 */
type Phase = "loading" | "asleep" | "awake" | "resting" | "stopped";
type Stop = { kind: "cancel"; reason: unknown } | { kind: "shutdown" };

/** A job of a group: asleep (no engine) until due or until used. */
export class GroupMember extends ScheduledJob implements ClockEntry {
  at = 0;
  slot = -1;
  readonly #host: MemberHost;
  readonly #job: Job<undefined>;
  readonly #config: ResolvedConfig;
  readonly #observer: SchedulerObserver | undefined;
  #outcome: LazyOutcome | undefined;
  #phase: Phase = "loading";
  /** Whether the state is still to be loaded. */
  #pending = true;
  /** The job's state while it has no run. */
  #state: JobState | undefined;
  /** The load failed: the run fails with this, as a single job's would. */
  #failed: { error: unknown } | undefined;
  /** The load's events, kept for the engine when it starts right away. */
  #events: SchedulerEvent[] | undefined;
  /** The runs recorded so far, kept across its naps. */
  #history: RunHistory | undefined;
  #stop: Stop | undefined;
  #scheduler: Scheduler | undefined;
  #handle: SchedulerHandle | undefined;
  /** The scheduler was handed out (it may have listeners): keep it. */
  #touched = false;
  /** Calls of the handle under way that need the run to stay. */
  #holds = 0;
  /** Used while resting: start again once the run has ended. */
  #wakeAgain = false;
  #running: Promise<unknown> | undefined;

  /**
   * A member; the group's loader loads its state (`load()`).
   *
   * @param parts The job, its resolved config and observer, and the group.
   */
  constructor(parts: {
    job: Job<undefined>;
    config: ResolvedConfig;
    observer: SchedulerObserver | undefined;
    host: MemberHost;
  }) {
    super({ scheduler: restingScheduler(), jobId: parts.job.jobId });
    this.#host = parts.host;
    this.#job = parts.job;
    this.#config = parts.config;
    this.#observer = parts.observer;
    parts.host.enqueue(this);
  }

  /** Settles once the state is loaded; `undefined` after. */
  get loading(): Promise<void> | undefined {
    return this.#pending ? this.#host.loads() : undefined;
  }

  /** Whether the job has a run going. */
  get awake(): boolean {
    return this.#phase === "awake";
  }

  /** The clock's call: the job is due within `WAKE_LEAD_MS`. */
  wake(): void {
    this.#awaken();
  }

  /**
   * Settles when the job stops, as `ScheduledJob.done`; a failure also goes
   * to the group (`MemberHost.failed`), which stops the others.
   */
  override get done(): Promise<SchedulerReport> {
    return (this.#outcome ??= new LazyOutcome()).promise;
  }

  /** The report, once the job stopped. */
  get report(): SchedulerReport | undefined {
    return this.#outcome?.report;
  }

  /** The scheduler running it (the job gets its engine now if asleep). */
  override get scheduler(): Scheduler {
    this.#touched = true;
    return this.#awaken();
  }

  override cancel(reason?: unknown): void {
    if (this.#phase === "awake") return this.#handle!.cancel(reason);
    this.#stopAsleep({
      kind: "cancel",
      reason: reason === undefined ? defaultCancelReason() : reason,
    });
  }

  override shutdown(): void {
    if (this.#phase === "awake") return this.#handle!.shutdown();
    this.#stopAsleep({ kind: "shutdown" });
  }

  override pause(): void {
    this.#build().pause(); // before the run starts: it must not nap first
    this.#awaken();
  }

  override resume(): void {
    this.#build().resume();
    this.#awaken();
  }

  override get paused(): boolean {
    return this.#handle?.paused ?? false;
  }

  override async idle(): Promise<void> {
    await this.#settled();
    if (this.#handle === undefined) await nextMacrotask();
    if (this.#handle !== undefined) await this.#handle.idle();
  }

  override triggerNow(options?: TriggerNowOptions): Promise<RunRecord> {
    return this.#holding((handle) => handle.triggerNow(options));
  }

  override nextRun(): Promise<Date | null> {
    return this.#holding((handle) => handle.nextRun());
  }

  override nextRuns(count: number): Promise<Date[]> {
    return this.#holding((handle) => handle.nextRuns(count));
  }

  /**
   * Gives the job its run and keeps it from napping until `use` is done
   * with its handle (a manual run needs a run to take it).
   */
  async #holding<T>(use: (handle: SchedulerHandle) => Promise<T>): Promise<T> {
    this.#holds++;
    try {
      this.#awaken();
      await this.#settled();
      return await use(this.#handle!);
    } finally {
      this.#holds--;
    }
  }

  /** Waits out a load or the end of a run going back to sleep. */
  async #settled(): Promise<void> {
    await this.loading;
    while (this.#phase === "resting") await this.#running;
  }

  /**
   * Loads (or creates) the state as the engine would, keeping its events;
   * never rejects: a failed load wakes the job, whose run dispatches the
   * events so far and fails with the error, as a single job's run does when
   * its load fails (one load, not a second one by the engine).
   */
  async load(): Promise<void> {
    const job = this.#job;
    const guard = this.#host.guard;
    let state: JobState | undefined;
    let events: SchedulerEvent[] | undefined;
    let failed: { error: unknown } | undefined;
    try {
      await loadJobState({
        jobId: job.jobId,
        job,
        config: this.#config,
        store: this.#host.store,
        definition: this.#host.fingerprint(job, this.#config),
        // Nobody can hear a sleeping job's events but its observer, or
        // listeners added once its handle was used.
        listens: () => this.#observer !== undefined || this.#phase === "awake",
        dispatch: (event) => void (events ??= []).push(event),
        adopt: (loaded) => state = loaded,
        grid: guard !== undefined &&
          Object.getPrototypeOf(guard) !== NoopExecutionGuard.prototype,
      });
    } catch (error) {
      failed = { error };
    }
    this.#pending = false;
    this.#state = state;
    this.#events = events;
    this.#failed = failed;
    if (this.#phase === "awake") return this.#start();
    this.#phase = "asleep";
    if (failed !== undefined) return void this.#awaken();
    if (this.#stop !== undefined) return this.#stopAsleep(this.#stop);
    const next = state!.nextRunAt;
    const wakeAt = next === null
      ? Number.NEGATIVE_INFINITY
      : (job.jitterMaxMs === 0
        ? next.getTime()
        : new Jitter(job.jobId, job.jitterMaxMs).wakeInstant(next.getTime())) -
        WAKE_LEAD_MS;
    if (wakeAt <= Date.now()) return void this.#awaken();
    this.#announce();
    this.#sleepUntil(wakeAt);
  }

  #sleepUntil(at: number): void {
    this.at = at;
    this.#host.clock.push(this);
    this.#host.clock.arm();
  }

  /** The scheduler's handle, building the scheduler if there is none. */
  #build(): SchedulerHandle {
    this.#scheduler ??= new Scheduler(this.#config, this.#host.store, {
      guard: this.#host.guard,
      observer: this.#observer,
    });
    return this.#handle ??= this.#scheduler.handle();
  }

  /** Builds the scheduler, and starts its run once the state is loaded. */
  #awaken(): Scheduler {
    const phase = this.#phase;
    if (phase === "resting") this.#wakeAgain = true;
    if (phase === "awake" || phase === "resting") return this.#scheduler!;
    this.#host.clock.remove(this);
    this.#build();
    if (phase === "stopped") return this.#scheduler!;
    this.#phase = "awake";
    this.#host.awoke();
    if (phase === "asleep") this.#start();
    return this.#scheduler!;
  }

  /** The `run()`, from the loaded state (or the failure of its load). */
  #start(): void {
    const state = this.#state;
    const failed = this.#failed;
    const resume: Resume | undefined =
      state === undefined && failed === undefined ? undefined : {
        state,
        events: this.#events ?? [],
        history: this.#history ??= new RunHistory(this.#config.historyLimit),
        rest: (wakeAt) => this.#rest(wakeAt),
        ...(failed === undefined ? {} : { failed }),
      };
    this.#state = this.#events = this.#failed = undefined;
    const signal = this.#host.signal;
    const options: RunOptions & { [RESUME]?: Resume } = resume === undefined
      ? { signal }
      : { signal, [RESUME]: resume };
    // A stop asked for before the run applies to it from its start.
    const stop = this.#stop;
    if (stop?.kind === "cancel") this.#handle!.cancel(stop.reason);
    else if (stop?.kind === "shutdown") this.#handle!.shutdown();
    const run = this.#scheduler!.run(this.#job, options);
    this.#running = run;
    run.then((report) => {
      if (isRested(report)) this.#rested(report);
      else this.#end({ report });
    }, (error) => {
      this.#end({ error });
      this.#host.failed(this, error);
    });
  }

  /** The run asks whether it may end and sleep on the group's clock. */
  #rest(wakeAt: number): boolean {
    if (
      this.#holds > 0 || this.#stop !== undefined ||
      wakeAt - WAKE_LEAD_MS <= Date.now()
    ) return false;
    this.#phase = "resting";
    this.at = wakeAt - WAKE_LEAD_MS;
    return true;
  }

  /** The run has ended to sleep: back on the clock, unless asked for. */
  #rested(report: SchedulerReport): void {
    this.#running = undefined;
    this.#state = report.state;
    this.#phase = "asleep";
    const wakeAgain = this.#wakeAgain;
    this.#wakeAgain = false;
    if (!this.#touched && !wakeAgain) {
      this.#scheduler = this.#handle = undefined; // nobody can reach them
    }
    if (this.#stop !== undefined) this.#stopAsleep(this.#stop);
    else if (wakeAgain) this.#awaken();
    else this.#sleepUntil(this.at);
  }

  /** A stop while asleep: the report a run stopped before its next run gives. */
  #stopAsleep(stop: Stop): void {
    const phase = this.#phase;
    if (phase === "stopped") return;
    this.#stop ??= stop;
    if (phase === "loading" || phase === "resting") return; // applied after
    // A scheduler handed out may have listeners: its run says it to them.
    if (this.#scheduler !== undefined) return void this.#awaken();
    this.#phase = "stopped";
    this.#host.clock.remove(this);
    const state = this.#state!;
    this.#state = undefined;
    this.#announce();
    const reason = this.#stop.kind === "cancel"
      ? SchedulerStopReason.Cancelled
      : SchedulerStopReason.Shutdown;
    if (this.#observer !== undefined) {
      this.#events = [{
        type: "scheduler-stopped",
        jobId: this.jobId,
        triggerCount: state.triggerCount,
        reason,
      }];
      this.#announce();
    }
    this.#end({
      report: {
        jobId: this.jobId,
        state: copyJobState(state),
        history: this.#history?.toArray() ?? [],
        stopReason: reason,
      },
    });
  }

  #end(ended: { report: SchedulerReport } | { error: unknown }): void {
    (this.#outcome ??= new LazyOutcome()).end(ended);
  }

  /** Events of a job with no scheduler yet go to its observer alone. */
  #announce(): void {
    const events = this.#events;
    this.#events = undefined;
    const observer = this.#observer;
    if (observer === undefined || events === undefined) return;
    for (const event of events) notifyObserver(observer, jsonSafe(event));
  }
}
