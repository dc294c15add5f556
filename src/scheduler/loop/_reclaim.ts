/**
 * At-least-once delivery for one `run()`: takes leases through the guard's
 * in-flight ledger, completes them through it, and reclaims the expired
 * records of dead instances (what to reclaim is `planReclaim`'s decision).
 *
 * @module
 */

import { InvalidJobKind, OverlapPolicy, RunStatus } from "../../constants.ts";
import { InvalidJobError } from "../../errors.ts";
import {
  type ExecutionGuard,
  type ExecutionGuardAcquire,
  type ExecutionLease,
  NoopExecutionGuard,
} from "../../guard/execution_guard.ts";
import type { InFlightLedger, InFlightRecord } from "../../guard/in_flight.ts";
import { MAX_TIMER_MS } from "../../schedule/sleep.ts";
import { Delivery } from "../job/delivery.ts";
import type { Trigger } from "../rules/_decide.ts";
import type { RunReclaimedEvent } from "../events/run_events.ts";
import type { Job } from "../job/job.ts";
import { planReclaim } from "../rules/_reclaim_plan.ts";

/** A reclaimed occurrence, leased to this instance. */
export interface Reclaimed {
  readonly trigger: Trigger;
  readonly lease: ExecutionLease;
  readonly event: RunReclaimedEvent;
}

/** What the engine currently runs or queues. */
export interface ReclaimContext {
  readonly activeRuns: number;
  readonly queued: boolean;
}

/** What {@linkcode Reclaimer.check} asks of the engine. */
export interface CheckContext extends ReclaimContext {
  /** Whether a stop was requested (checked after the reclaims). */
  stopping(): boolean;
}

/**
 * The reclaimer of an at-least-once job (none for an at-most-once one), or
 * the error `run()` must reject with: an `InvalidJobError` kind `other` when
 * the job is at-least-once and the guard has no in-flight ledger.
 */
export function deliveryFor<D>(
  job: Job<D>,
  guard: ExecutionGuard,
  wake: () => void,
): { reclaimer?: Reclaimer; error?: InvalidJobError } {
  if (job.delivery !== Delivery.AtLeastOnce) return {};
  const ledger: InFlightLedger | undefined = guard.inFlight;
  if (
    ledger === undefined &&
    Object.getPrototypeOf(guard) === NoopExecutionGuard.prototype
  ) {
    // The single-instance guard: every holder is in this process, alive as
    // long as the records would be (a crash loses both), so nothing could
    // ever be reclaimed, and a run given back would find nobody to take it.
    // At-least-once is at-most-once here, and costs nothing more.
    return {};
  }
  if (ledger === undefined) {
    return {
      error: new InvalidJobError(
        `job ${
          JSON.stringify(job.jobId)
        } asks for at-least-once delivery, but its execution guard has no in-flight ledger (guard.inFlight); use the Valkey or Deno KV guard, or the default single-instance guard`,
        { kind: InvalidJobKind.Other },
      ),
    };
  }
  return { reclaimer: new Reclaimer({ ledger, job, wake }) };
}

/** One `run()`'s at-least-once bookkeeping. */
export class Reclaimer {
  readonly #ledger: InFlightLedger;
  readonly #job: Pick<Job<unknown>, "jobId" | "overlapPolicy">;
  readonly #wake: () => void;
  /** Lease tokens of this run's own active runs. */
  readonly #own = new Set<string>();
  /** Look at the ledger at the next chance (run() start, a timer, a wait). */
  #recheck = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the last look found records that others hold or we deferred. */
  #open = false;
  /** Looks at the ledger in a row that found damaged data. */
  #damagedLooks = 0;

  constructor(
    options: {
      ledger: InFlightLedger;
      job: Pick<Job<unknown>, "jobId" | "overlapPolicy">;
      wake: () => void;
    },
  ) {
    this.#ledger = options.ledger;
    this.#job = options.job;
    this.#wake = options.wake;
  }

  /**
   * Whether the engine should look at the ledger before this decision: at
   * `run()` start, whenever an occurrence is due (each decision), and when a
   * lease seen held by another instance may have expired; never while the
   * overlap policy would defer a reclaim anyway.
   */
  shouldCheck(nextRunAt: Date | null, context: ReclaimContext): boolean {
    // Nothing could be reclaimed now (planReclaim would defer it): spare
    // the round trip; a pending recheck waits until the instance is idle.
    if (
      context.queued ||
      (context.activeRuns > 0 &&
        this.#job.overlapPolicy !== OverlapPolicy.AllowParallel)
    ) {
      return false;
    }
    return this.#recheck ||
      (nextRunAt !== null && nextRunAt.getTime() <= Date.now());
  }

  /** Whether records of other holders were seen: the job is not over yet. */
  get open(): boolean {
    return this.#open;
  }

  /** Takes the trigger's lease and writes its in-flight record. */
  async acquire(trigger: Trigger): Promise<ExecutionGuardAcquire> {
    const answer = await this.#ledger.acquire({
      jobId: this.#job.jobId,
      scheduledAt: new Date(trigger.scheduledAt),
      triggerCount: trigger.triggerCount,
      catchUp: trigger.catchUp,
    });
    if (answer?.kind === "acquired") this.#own.add(answer.lease?.token);
    // Contended: another instance holds the occurrence and has written its
    // in-flight record. Look at the ledger now, so that a timer is armed for
    // that lease's deadline: if the holder dies, the replay comes within
    // ttl of its death, not at this instance's next decision (for a nightly
    // job, the next night). See docs/recovery.md.
    else if (answer?.kind === "contended") this.#recheck = true;
    return answer;
  }

  /**
   * Ends a run's lease through the ledger: a run that completed clears its
   * record; one that was cancelled or lost its lease (`cancelled`) gives
   * the occurrence back to be replayed.
   */
  async settle(lease: ExecutionLease, status: RunStatus): Promise<void> {
    try {
      if (status === RunStatus.Cancelled) await this.#ledger.abandon(lease);
      else await this.#ledger.complete(lease);
    } finally {
      this.#own.delete(lease.token);
      // Another instance's record may have waited for this run to end.
      if (this.#open) this.#recheck = true;
    }
  }

  /**
   * A lease of ours ran out before its run started (a queued trigger): its
   * record is no longer ours, and the ledger is looked at again at once.
   */
  forget(lease: ExecutionLease): void {
    this.#own.delete(lease.token);
    this.#recheck = true;
  }

  /**
   * `guard` with its release giving the occurrence back (a lease taken but
   * not used, because the scheduler is stopping, is not a completed run).
   */
  wrap(guard: ExecutionGuard): ExecutionGuard {
    return {
      acquire: (slot) => guard.acquire(slot),
      renew: (lease) => guard.renew(lease),
      release: (lease) => this.settle(lease, RunStatus.Cancelled),
      renewIntervalMs: (lease) => guard.renewIntervalMs?.(lease),
    };
  }

  /**
   * Lists the records and reclaims what `planReclaim` says, oldest first.
   * Arms a wake-up for when a lease held elsewhere ends. Reclaims made while
   * a stop was requested are given back at once, for others to take.
   */
  async check(context: CheckContext): Promise<Reclaimed[]> {
    this.#recheck = false;
    this.#clearTimer();
    const records = await this.#ledger.list(this.#job.jobId);
    const plan = planReclaim({
      records,
      ownHolders: this.#own,
      overlapPolicy: this.#job.overlapPolicy,
      ...context,
    });
    const reclaimed: Reclaimed[] = [];
    for (const record of plan.reclaim) {
      const answer = await this.#ledger.reclaim(record);
      if (answer?.kind !== "acquired") continue;
      this.#own.add(answer.lease.token);
      reclaimed.push(this.#reclaimed(record, answer.lease));
    }
    if (reclaimed.length > 0 && context.stopping()) {
      for (const { lease } of reclaimed) {
        await this.settle(lease, RunStatus.Cancelled);
      }
      return [];
    }
    this.#damagedLooks = 0;
    const lost = plan.reclaim.length - reclaimed.length;
    this.#open = plan.deferred > 0 || plan.recheckInMs !== undefined ||
      lost > 0;
    // A deferred record is looked at again once this instance is idle; a
    // lost race means someone else holds it now: look again when its lease
    // could have ended.
    if (plan.deferred > 0) this.#recheck = true;
    const wait = lost > 0
      ? Math.min(plan.recheckInMs ?? Infinity, 1_000)
      : plan.recheckInMs;
    if (wait !== undefined) this.#armTimer(wait);
    return reclaimed;
  }

  /**
   * A look at the ledger met damaged data (`ExecutionGuardError` kind
   * `data`). The guards set such data aside, so the first time the ledger
   * is looked at again at once; if the damage stays, not before the next
   * decision, and it no longer keeps the job from ending. Answers whether
   * to look again now.
   */
  damaged(): boolean {
    this.#damagedLooks++;
    this.#open = false;
    this.#recheck = this.#damagedLooks === 1;
    return this.#recheck;
  }

  /** Stops the wake-up timer (the run is over). */
  dispose(): void {
    this.#clearTimer();
  }

  #reclaimed(record: InFlightRecord, lease: ExecutionLease): Reclaimed {
    const trigger: Trigger = {
      scheduledAt: record.scheduledAt.getTime(),
      catchUp: record.catchUp,
      triggerCount: record.triggerCount,
      replayed: true,
    };
    const event: RunReclaimedEvent = {
      type: "run-reclaimed",
      jobId: this.#job.jobId,
      scheduledAt: new Date(trigger.scheduledAt),
      catchUp: trigger.catchUp,
      triggerCount: trigger.triggerCount,
      ...(lease.fencingToken === undefined
        ? {}
        : { fencingToken: lease.fencingToken }),
      ...(record.fencingToken === undefined
        ? {}
        : { previousFencingToken: record.fencingToken }),
    };
    return { trigger, lease, event };
  }

  #armTimer(ms: number): void {
    this.#clearTimer();
    // A little after the lease's end, so that it has expired by then.
    const delay = Math.min(Math.max(0, ms) + 5, MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#recheck = true;
      this.#wake();
    }, delay);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
