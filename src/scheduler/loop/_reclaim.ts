/**
 * At-least-once delivery for one `run()`: takes leases through the guard's
 * in-flight ledger, completes them through it, and reclaims the expired
 * records of dead instances (what to reclaim is `planReclaim`'s decision).
 * At-most-once jobs on a guard with a ledger use it too, to report (not
 * replay) an occurrence whose holder died: it is taken over and marked done
 * at once, and reported lost (docs/recovery.md).
 *
 * @module
 */

import { OverlapPolicy, RunStatus } from "../../constants.ts";
import type {
  ExecutionGuard,
  ExecutionGuardAcquire,
  ExecutionLease,
} from "../../guard/execution_guard.ts";
import type {
  InFlightLedger,
  InFlightRecord,
  InFlightSlot,
} from "../../guard/in_flight.ts";
import type { LeasedAcquire } from "../../store/leased_writes.ts";
import { MAX_TIMER_MS } from "../../schedule/sleep.ts";
import type { Trigger } from "../rules/_decide.ts";
import type { RunReclaimedEvent } from "../events/run_events.ts";
import type { Job } from "../job/job.ts";
import { planReclaim, type ReclaimPlan } from "../rules/_reclaim_plan.ts";

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

/** What {@linkcode Reclaimer.check} found. */
export interface CheckResult {
  /** Occurrences to run again here (at-least-once). */
  readonly reclaimed: Reclaimed[];
  /**
   * At-most-once occurrences whose holder died before completing them:
   * taken over and marked done here, never run again, to be reported.
   */
  readonly lost: InFlightRecord[];
}

/** What {@linkcode Reclaimer.check} asks of the engine. */
export interface CheckContext extends ReclaimContext {
  /** Whether a stop was requested (checked after the reclaims). */
  stopping(): boolean;
}

/** One `run()`'s at-least-once bookkeeping. */
export class Reclaimer {
  readonly #ledger: InFlightLedger;
  readonly #job: Pick<Job<unknown>, "jobId" | "overlapPolicy">;
  readonly #wake: () => void;
  /** At-least-once: replay dead holders' runs; else report them lost. */
  readonly #replay: boolean;
  /** Lease tokens of this run's own active runs. */
  readonly #own = new Set<string>();
  /** Look at the ledger at the next chance (run() start, a timer, a wait). */
  #recheck = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the last look found records that others hold or we deferred. */
  #open = false;
  /** Looks at the ledger in a row that found damaged data. */
  #damagedLooks = 0;
  /** Whether grants come through a store's leased writes. */
  #leased = false;

  constructor(
    options: {
      ledger: InFlightLedger;
      job: Pick<Job<unknown>, "jobId" | "overlapPolicy">;
      wake: () => void;
      replay: boolean;
    },
  ) {
    this.#ledger = options.ledger;
    this.#job = options.job;
    this.#wake = options.wake;
    this.#replay = options.replay;
  }

  /**
   * Whether the engine should look at the ledger before this decision: at
   * `run()` start, whenever an occurrence is due (each decision, unless
   * grants come through a store's leased writes: see
   * `grantThroughStore`), and when a lease seen held by another instance
   * may have expired; never while the overlap policy would defer a reclaim
   * anyway.
   */
  shouldCheck(nextRunAt: Date | null, context: ReclaimContext): boolean {
    // Reporting starts nothing, so needs no order among the decisions: it
    // looks at run() start, after a contended grant, and when a lease seen
    // held elsewhere may have ended.
    if (!this.#replay) return this.#recheck;
    // Nothing could be reclaimed now (planReclaim would defer it): spare
    // the round trip; a pending recheck waits until the instance is idle.
    if (
      context.queued ||
      (context.activeRuns > 0 &&
        this.#job.overlapPolicy !== OverlapPolicy.AllowParallel)
    ) {
      return false;
    }
    // Leased grants stand in for this look (see `grantThroughStore`).
    return this.#recheck ||
      (!this.#leased && nextRunAt !== null &&
        nextRunAt.getTime() <= Date.now());
  }

  /** Whether records of other holders were seen: the job is not over yet. */
  get open(): boolean {
    return this.#open;
  }

  /** Takes the trigger's lease and writes its in-flight record. */
  async acquire(trigger: Trigger): Promise<ExecutionGuardAcquire> {
    return this.granted(await this.#ledger.acquire(this.slot(trigger)));
  }

  /** The in-flight slot of `trigger`'s occurrence. */
  slot(trigger: Trigger): InFlightSlot {
    return {
      jobId: this.#job.jobId,
      scheduledAt: new Date(trigger.scheduledAt),
      triggerCount: trigger.triggerCount,
      catchUp: trigger.catchUp,
    };
  }

  /**
   * Grants come through a store's leased writes (store/leased_writes.ts):
   * they stand in for the look before each decision, which would cost a
   * round trip per run; recovery on time rests on contended grants and the
   * timers they arm (docs/recovery.md), and a grant's count of the
   * ledger's records (`inFlight`) above our own runs' brings a look before
   * the next decision.
   */
  grantThroughStore(): void {
    this.#leased = true;
  }

  /**
   * Takes note of a grant with an in-flight record (through the ledger, or
   * a store's leased write); answers `answer`.
   */
  granted<A extends LeasedAcquire>(answer: A): A {
    if (answer?.kind === "acquired") {
      this.#own.add(answer.lease?.token);
      const records = answer.inFlight;
      if (typeof records === "number" && records > this.#own.size) {
        this.#recheck ||= this.#replay;
      }
    } else if (answer?.kind === "contended") {
      // Another instance holds the occurrence and has written its in-flight
      // record. Look at the ledger now, so that a timer is armed for that
      // lease's deadline: if the holder dies, the replay comes within ttl
      // of its death, not at this instance's next decision (for a nightly
      // job, the next night). See docs/recovery.md.
      this.#recheck = true;
    }
    return answer;
  }

  /**
   * Ends a run's lease through the ledger: a run that completed clears its
   * record; under at-least-once one that was cancelled or lost its lease
   * (`cancelled`) gives the occurrence back to be replayed (at-most-once:
   * it ran, and is done).
   */
  settle(lease: ExecutionLease, status: RunStatus): Promise<void> {
    return this.settleWith(
      lease,
      status,
      (end) =>
        end === "abandon"
          ? this.#ledger.abandon(lease)
          : this.#ledger.complete(lease),
    );
  }

  /**
   * Ends a run's lease as {@linkcode settle} would, through `write` (a
   * store's leased write saving the run's record with it).
   */
  settleWith(
    lease: ExecutionLease,
    status: RunStatus,
    write: (end: "complete" | "abandon") => Promise<void>,
  ): Promise<void> {
    return this.#end(
      lease,
      status === RunStatus.Cancelled && this.#replay,
      write,
    );
  }

  async #end(
    lease: ExecutionLease,
    giveBack: boolean,
    write?: (end: "complete" | "abandon") => Promise<void>,
  ): Promise<void> {
    try {
      if (write !== undefined) await write(giveBack ? "abandon" : "complete");
      else if (giveBack) await this.#ledger.abandon(lease);
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
   * not used, because the scheduler is stopping, is not a completed run:
   * replayed, or under at-most-once reported lost).
   */
  wrap(guard: ExecutionGuard): ExecutionGuard {
    return {
      acquire: (slot) => guard.acquire(slot),
      renew: (lease) => guard.renew(lease),
      release: (lease) => this.#end(lease, true),
      renewIntervalMs: (lease) => guard.renewIntervalMs?.(lease),
    };
  }

  /**
   * Lists the records and reclaims what `planReclaim` says, oldest first.
   * Arms a wake-up for when a lease held elsewhere ends. Reclaims made while
   * a stop was requested are given back at once, for others to take.
   */
  async check(context: CheckContext): Promise<CheckResult> {
    this.#recheck = false;
    this.#clearTimer();
    const records = await this.#ledger.list(this.#job.jobId);
    const plan = planReclaim({
      records,
      ownHolders: this.#own,
      // Nothing is run for a report, so nothing waits for room.
      overlapPolicy: this.#replay
        ? this.#job.overlapPolicy
        : OverlapPolicy.AllowParallel,
      ...context,
    });
    if (!this.#replay) return { reclaimed: [], lost: await this.#retire(plan) };
    const reclaimed: Reclaimed[] = [];
    for (const record of plan.reclaim) {
      const answer = await this.#ledger.reclaim(record);
      if (answer?.kind !== "acquired") continue;
      this.#own.add(answer.lease.token);
      reclaimed.push(this.#reclaimed(record, answer.lease));
    }
    if (reclaimed.length > 0 && context.stopping()) {
      for (const { lease } of reclaimed) await this.#end(lease, true);
      return { reclaimed: [], lost: [] };
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
    return { reclaimed, lost: [] };
  }

  /**
   * At-most-once: each expired record of another holder is taken over (one
   * atomic reclaim: of several instances only one wins, and a live holder's
   * record is never taken) and marked done at once, so it is reported by
   * exactly one instance and never run. Records held by live instances are
   * looked at again when their leases end; the job does not wait for them.
   */
  async #retire(plan: ReclaimPlan): Promise<InFlightRecord[]> {
    const lost: InFlightRecord[] = [];
    for (const record of plan.reclaim) {
      const answer = await this.#ledger.reclaim(record);
      if (answer?.kind !== "acquired") continue;
      await this.#ledger.complete(answer.lease);
      lost.push(record);
    }
    this.#damagedLooks = 0;
    this.#open = false;
    const raced = plan.reclaim.length - lost.length;
    const wait = raced > 0
      ? Math.min(plan.recheckInMs ?? Infinity, 1_000)
      : plan.recheckInMs;
    if (wait !== undefined) this.#armTimer(wait);
    return lost;
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
