/**
 * The sleeping side of a `JobGroup`: which jobs may sleep without a
 * scheduler, and what they share while they do — the one clock, the loader
 * of their states, the parsed schedules and configs (docs/jobs.md, "How a
 * group sleeps").
 *
 * Runtime-neutral.
 *
 * @module
 */

import {
  type ExecutionGuard,
  NoopExecutionGuard,
} from "../guard/execution_guard.ts";
import type { StateStore } from "../store/state_store.ts";
import { telemetryRegistered } from "../telemetry/_gate.ts";
import { NoopObserver, type SchedulerObserver } from "./events/observer.ts";
import { Delivery } from "./job/delivery.ts";
import type { Task } from "./job/task.ts";
import { defineJob, type JobDefinitionOptions, toTask } from "./_define_job.ts";
import { GroupClock } from "./_group_clock.ts";
import { GroupLoader } from "./_group_loader.ts";
import { GroupMember } from "./_group_member.ts";
import type { MemberHost } from "./_member_host.ts";
import { requireParts } from "./_scheduler_parts.ts";
import { SharedDefinitions } from "./_shared_definitions.ts";
import type { ScheduledJob } from "./scheduled_job.ts";

/** What a group without a guard checks its parts against. */
const NO_GUARD = new NoopExecutionGuard();

/** One group's sleeping jobs and what they share. */
/** The parts of a group its sleeping jobs use. */
interface GroupParts {
  readonly store: StateStore;
  readonly guard: ExecutionGuard | undefined;
  readonly timezone: string | undefined;
  readonly observer: SchedulerObserver | undefined;
  /** Passed to every job's `run()`. */
  readonly signal: AbortSignal;
  /** Hears a job's failure. */
  failed(job: ScheduledJob, error: unknown): void;
}

/** One group's sleeping jobs and what they share. */
export class SleepingJobs {
  readonly #group: GroupParts;
  readonly #clock = new GroupClock();
  readonly #loader = new GroupLoader();
  readonly #shared = new SharedDefinitions();
  readonly #host: MemberHost;
  /** The shared store, guard and observer passed `requireParts`. */
  #partsChecked = false;
  /** How many sleeping jobs got their scheduler so far. */
  woken = 0;

  /** The sleeping side of a group with these parts. */
  constructor(group: GroupParts) {
    this.#group = group;
    this.#host = {
      store: group.store,
      guard: group.guard,
      signal: group.signal,
      clock: this.#clock,
      fingerprint: (job, config) => this.#shared.fingerprint(job, config),
      enqueue: (member) => this.#loader.add(member),
      loads: () => this.#loader.drained(),
      awoke: () => void this.woken++,
      failed: group.failed,
    };
  }

  /**
   * Whether a job may sleep without a scheduler: nothing it depends on
   * needs one between its runs. A store with events of its own, a guard's
   * in-flight ledger to watch (at-least-once reclaims, lost runs), or
   * telemetry to feed keep every job on its own scheduler from the start.
   */
  admits(delivery: string | undefined): boolean {
    const guard = this.#group.guard;
    const noop = guard === undefined ||
      Object.getPrototypeOf(guard) === NoopExecutionGuard.prototype;
    return !(this.#group.store instanceof EventTarget) &&
      guard?.inFlight === undefined &&
      (delivery !== Delivery.AtLeastOnce || noop) &&
      !telemetryRegistered();
  }

  /**
   * A job that sleeps on the group's clock until it is due or used.
   *
   * @throws {InvalidJobError} as `schedule()` for an invalid job.
   */
  add(
    when: unknown,
    given: JobDefinitionOptions & { observer?: SchedulerObserver },
    task: unknown,
  ): GroupMember {
    const resolvedTask: Task<undefined> = toTask(task);
    const { schedule, id } = this.#shared.schedule(when);
    const { job, config } = defineJob(schedule, id, given, resolvedTask);
    const { store, guard, timezone } = this.#group;
    const observer = given.observer ?? this.#group.observer;
    if (!this.#partsChecked || given.observer !== undefined) {
      requireParts(store, guard ?? NO_GUARD, observer);
      this.#partsChecked = given.observer === undefined;
    }
    this.#clock.hold();
    return new GroupMember({
      job,
      config: this.#shared.config(config, timezone),
      observer: observer instanceof NoopObserver ? undefined : observer,
      host: this.#host,
    });
  }

  /** Stops the clock for good: the group is stopping. */
  close(): void {
    this.#clock.close();
  }
}
