/**
 * What a sleeping job of a `JobGroup` shares with its group
 * (`_group_member.ts`): the group's parts, clock and loader, how early it
 * wakes, and the one idle handle every member's base class is built on.
 *
 * Runtime-neutral.
 *
 * @module
 */

import type { ExecutionGuard } from "../guard/execution_guard.ts";
import { InMemoryStateStore } from "../store/in_memory.ts";
import type { StateStore } from "../store/state_store.ts";
import type { SchedulerHandle } from "./control.ts";
import type { ResolvedConfig } from "./job/config.ts";
import type { Job } from "./job/job.ts";
import type { ScheduledJob } from "./scheduled_job.ts";
import { Scheduler } from "./scheduler.ts";
import type { GroupClock } from "./_group_clock.ts";
import type { Loadable } from "./_group_loader.ts";

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
  enqueue(member: Loadable): void;
  /** Settles once every load queued so far is done. */
  loads(): Promise<void>;
  /** The job's definition fingerprint (`job/_fingerprint.ts`), shared. */
  fingerprint(job: Job<undefined>, config: ResolvedConfig): string;
  /** Told when a member's run fails (the group stops the others). */
  failed(member: ScheduledJob, error: unknown): void;
  /** Told when a member gets its engine (for `JobGroup.idle()`). */
  awoke(): void;
}

let resting: { handle(): SchedulerHandle } | undefined;

/**
 * What `ScheduledJob`'s constructor takes the first handle from: one handle
 * of an idle scheduler that no member ever runs, shared by all (every
 * control of a member is its own).
 */
export function restingScheduler(): Scheduler {
  if (resting === undefined) {
    const handle = new Scheduler({}, new InMemoryStateStore()).handle();
    resting = { handle: () => handle };
  }
  return resting as Scheduler;
}
