/**
 * One job of a `JobGroup`, asleep until it is due: its handle, its loaded
 * state and its definition, without a `Scheduler`, an engine or a timer.
 * The group's clock (`_group_clock.ts`) wakes it a little before its next
 * occurrence; using the handle (its scheduler, pause, triggerNow, nextRun…)
 * wakes it at once. Awake, it is an ordinary `run()` that starts from the
 * state loaded here, so it keeps every guarantee of a single job
 * (docs/jobs.md, "How a group sleeps").
 *
 * Runtime-neutral.
 *
 * @module
 */

import { SchedulerStopReason } from "../constants.ts";
import { jsonSafe } from "../_json_tokens.ts";
import {
  type ExecutionGuard,
  NoopExecutionGuard,
} from "../guard/execution_guard.ts";
import { copyJobState, type JobState } from "../store/job_state.ts";
import type { StateStore } from "../store/state_store.ts";
import type { SchedulerEvent } from "./events/events.ts";
import type { SchedulerObserver } from "./events/observer.ts";
import type { RunRecord, SchedulerReport } from "./events/report.ts";
import type { ResolvedConfig } from "./job/config.ts";
import type { Job } from "./job/job.ts";
import { Jitter } from "./job/_jitter.ts";
import type { TriggerNowOptions } from "./run/manual.ts";
import { loadJobState } from "./loop/_state_effects.ts";
import { RESUME, type Resume } from "./loop/_resume.ts";
import { nextMacrotask } from "./loop/_wake_clock.ts";
import { defaultCancelReason } from "./loop/_control_state.ts";
import { InMemoryStateStore } from "../store/in_memory.ts";
import type { SchedulerHandle } from "./control.ts";
import { notifyObserver } from "./_scheduler_parts.ts";
import { ScheduledJob } from "./scheduled_job.ts";
import { type RunOptions, Scheduler } from "./scheduler.ts";
import type { ClockEntry, GroupClock } from "./_group_clock.ts";

/**
 * How long before its wake-up instant a sleeping job gets its engine, which
 * then arms its own timer for the exact instant: a fake clock advancing in
 * one synchronous pass reaches that timer in the same pass, and a real timer
 * fired a little late still wakes the job before it is due.
 */
export const WAKE_LEAD_MS = 1_000;

/** What a member shares with its group. */
export interface MemberHost {
  readonly store: StateStore;
  readonly guard: ExecutionGuard | undefined;
  /** The group's stop signal, passed to every `run()`. */
  readonly signal: AbortSignal;
  readonly clock: GroupClock;
  /** Queues a member's `load()` (`_group_loader.ts`). */
  enqueue(member: GroupMember): void;
  /** Settles once every load queued so far is done. */
  loads(): Promise<void>;
  /** The job's definition fingerprint (`job/_fingerprint.ts`), shared. */
  fingerprint(job: Job<undefined>, config: ResolvedConfig): string;
  /** Told when a member's run fails (the group stops the others). */
  failed(member: GroupMember, error: unknown): void;
  /** Told when a member gets its engine (for `JobGroup.idle()`). */
  awoke(): void;
}

interface Settle {
  resolve(report: SchedulerReport): void;
  reject(error: unknown): void;
}

type Phase = "loading" | "asleep" | "awake" | "stopped";
type Stop = { kind: "cancel"; reason: unknown } | { kind: "shutdown" };

let resting: { handle(): SchedulerHandle } | undefined;

/**
 * What `ScheduledJob`'s constructor takes the first handle from: one handle
 * of an idle scheduler that no member ever runs, shared by all (every
 * control of a member is its own).
 */
function restingScheduler(): Scheduler {
  if (resting === undefined) {
    const handle = new Scheduler({}, new InMemoryStateStore()).handle();
    resting = { handle: () => handle };
  }
  return resting as Scheduler;
}

/** A job of a group: asleep (no engine) until due or until used. */
export class GroupMember extends ScheduledJob implements ClockEntry {
  at = 0;
  slot = -1;
  readonly #host: MemberHost;
  readonly #job: Job<undefined>;
  readonly #config: ResolvedConfig;
  readonly #observer: SchedulerObserver | undefined;
  /** `done`, once read. */
  #done: Promise<SchedulerReport> | undefined;
  /** Settles `done` once it was read; how the job ended until then. */
  #settle:
    | Settle
    | { report: SchedulerReport }
    | { error: unknown }
    | undefined;
  #phase: Phase = "loading";
  /** The loaded state, until the engine or a stop takes it. */
  #state: JobState | undefined;
  /** The load's events, kept for the engine when it starts right away. */
  #events: SchedulerEvent[] | undefined;
  #stop: Stop | undefined;
  #scheduler: Scheduler | undefined;
  #handle: SchedulerHandle | undefined;
  /** Whether the state is still to be loaded. */
  #pending = true;

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

  /** Whether the member has its engine (or had one). */
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
    if (this.#done !== undefined) return this.#done;
    const ended = this.#settle;
    if (ended !== undefined && "report" in ended) {
      this.#done = Promise.resolve(ended.report);
    } else if (ended !== undefined && "error" in ended) {
      this.#done = Promise.reject(ended.error);
    } else {
      this.#done = new Promise((resolve, reject) =>
        this.#settle = { resolve, reject }
      );
    }
    return this.#done;
  }

  /** The report, once the job stopped and `done` was not read yet. */
  get report(): SchedulerReport | undefined {
    const ended = this.#settle;
    return ended !== undefined && "report" in ended ? ended.report : undefined;
  }

  /** The scheduler running it (the job gets its engine now if asleep). */
  override get scheduler(): Scheduler {
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
    this.#awaken();
    this.#handle!.pause();
  }

  override resume(): void {
    this.#awaken();
    this.#handle!.resume();
  }

  override get paused(): boolean {
    return this.#handle?.paused ?? false;
  }

  override async idle(): Promise<void> {
    await this.loading;
    if (this.#handle === undefined) await nextMacrotask();
    if (this.#handle !== undefined) await this.#handle.idle();
  }

  override async triggerNow(options?: TriggerNowOptions): Promise<RunRecord> {
    await this.#started();
    return await this.#handle!.triggerNow(options);
  }

  override async nextRun(): Promise<Date | null> {
    await this.#started();
    return await this.#handle!.nextRun();
  }

  override async nextRuns(count: number): Promise<Date[]> {
    await this.#started();
    return await this.#handle!.nextRuns(count);
  }

  /** Gives the job its engine and waits until its `run()` has started. */
  async #started(): Promise<void> {
    this.#awaken();
    await this.loading;
  }

  /**
   * Loads (or creates) the state as the engine would, keeping its events;
   * never rejects (a failed load is the engine's to repeat and report).
   */
  async load(): Promise<void> {
    const job = this.#job;
    const guard = this.#host.guard;
    let state: JobState | undefined;
    let events: SchedulerEvent[] | undefined;
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
    } catch {
      // The engine loads again and fails (or not) as a single job would.
      this.#pending = false;
      if (this.#phase === "awake") return this.#start();
      this.#phase = "asleep";
      this.#awaken();
      return;
    }
    this.#pending = false;
    this.#state = state;
    this.#events = events;
    if (this.#phase === "awake") return this.#start();
    this.#phase = "asleep";
    if (this.#stop !== undefined) return this.#stopAsleep(this.#stop);
    const next = state!.nextRunAt;
    const wakeAt = next === null
      ? Number.NEGATIVE_INFINITY
      : (job.jitterMaxMs === 0
        ? next.getTime()
        : new Jitter(job.jobId, job.jitterMaxMs).wakeInstant(next.getTime())) -
        WAKE_LEAD_MS;
    if (wakeAt <= Date.now()) {
      this.#awaken();
      return;
    }
    this.#announce();
    this.at = wakeAt;
    this.#host.clock.push(this);
    this.#host.clock.arm();
  }

  /** Builds the scheduler, and starts its run once the state is loaded. */
  #awaken(): Scheduler {
    if (this.#scheduler !== undefined) return this.#scheduler;
    this.#host.clock.remove(this);
    const scheduler = new Scheduler(this.#config, this.#host.store, {
      guard: this.#host.guard,
      observer: this.#observer,
    });
    this.#scheduler = scheduler;
    this.#handle = scheduler.handle();
    if (this.#phase === "stopped") return scheduler;
    const phase = this.#phase;
    this.#phase = "awake";
    this.#host.awoke();
    if (phase === "asleep") this.#start();
    return scheduler;
  }

  /** The `run()`, from the loaded state (or loading it, after a failure). */
  #start(): void {
    const state = this.#state;
    const resume: Resume | undefined = state === undefined
      ? undefined
      : { state, events: this.#events ?? [] };
    this.#state = this.#events = undefined;
    const signal = this.#host.signal;
    const options: RunOptions & { [RESUME]?: Resume } = resume === undefined
      ? { signal }
      : { signal, [RESUME]: resume };
    const run = this.#scheduler!.run(this.#job, options);
    const stop = this.#stop;
    if (stop?.kind === "cancel") this.#handle!.cancel(stop.reason);
    else if (stop?.kind === "shutdown") this.#handle!.shutdown();
    run.then((report) => this.#end({ report }), (error) => {
      this.#end({ error });
      this.#host.failed(this, error);
    });
  }

  /** A stop while asleep: the report a run stopped before its first run gives. */
  #stopAsleep(stop: Stop): void {
    if (this.#phase === "stopped") return;
    this.#stop ??= stop;
    if (this.#phase === "loading") return; // applied once loaded
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
        history: [],
        stopReason: reason,
      },
    });
  }

  #end(outcome: { report: SchedulerReport } | { error: unknown }): void {
    const waiting = this.#settle;
    if (waiting === undefined) this.#settle = outcome;
    else if ("resolve" in waiting) {
      this.#settle = outcome;
      if ("report" in outcome) waiting.resolve(outcome.report);
      else waiting.reject(outcome.error);
    }
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
