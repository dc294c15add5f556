/**
 * The scheduler's decisions as one pure function: given the job's cursor,
 * "now", the policies and what is active or queued, say what to consume, and
 * whether to start, queue or drop a trigger, and what to report as skipped.
 * No clock, timers, store or guard: the engine supplies "now" and carries out
 * the decision.
 *
 * @module
 */

import { MissedRunPolicy, OverlapPolicy } from "../../constants.ts";
import {
  consumeDue,
  type OccurrenceCursor,
  type OccurrenceZone,
} from "../../schedule/_occurrences.ts";
import type { Schedule } from "../../schedule/schedule.ts";

/** A trigger: an occurrence chosen to run. */
export interface Trigger {
  /** Epoch ms of the occurrence. */
  readonly scheduledAt: number;
  readonly catchUp: boolean;
  /** The occurrence's ordinal (the cursor's count right after consuming it). */
  readonly triggerCount: number;
  /**
   * Set on a `triggerNow()` run: `scheduledAt` is then its manual slot and
   * `triggerCount` the state's count (nothing was consumed).
   */
  readonly manual?: true;
  /** Set on an at-least-once occurrence reclaimed from a dead holder. */
  readonly replayed?: boolean;
}

/** Occurrences consumed without a run in one decision. */
export interface Skipped {
  readonly count: number;
  /** Epoch ms of the latest of them. */
  readonly scheduledAt: number;
  readonly reason: "missed" | "overlap";
}

/** What the engine must do. */
export interface Decision {
  /** The cursor after consuming (save it before starting anything). */
  readonly cursor: OccurrenceCursor;
  /** The trigger decided, if any (reported as `trigger-emitted`). */
  readonly trigger: Trigger | undefined;
  /** What to do with `trigger`: start it, queue it, or nothing. */
  readonly action: "start" | "queue" | "none";
  /** Occurrences consumed without a run (reported as `run-skipped`). */
  readonly skipped: Skipped | undefined;
}

/** Everything a decision depends on. */
export interface DecisionInput extends OccurrenceZone {
  readonly schedule: Schedule;
  readonly maxRuns: number | undefined;
  readonly missedRunPolicy: MissedRunPolicy;
  readonly overlapPolicy: OverlapPolicy;
  readonly missedRunToleranceMs: number;
  readonly cursor: OccurrenceCursor;
  readonly now: number;
  /** Runs currently active. */
  readonly activeRuns: number;
  /** Whether a queue-one trigger is waiting. */
  readonly queued: boolean;
}

/**
 * Whether no decision may be taken now even if occurrences are due: while a
 * queue-one trigger waits, and, for replay-all without allow-parallel, while a
 * run is active (so the backlog runs one after the other).
 */
export function decisionBlocked(
  input: Pick<
    DecisionInput,
    "missedRunPolicy" | "overlapPolicy" | "activeRuns" | "queued"
  >,
): boolean {
  if (input.queued) return true;
  return input.missedRunPolicy === MissedRunPolicy.ReplayAll &&
    input.overlapPolicy !== OverlapPolicy.AllowParallel &&
    input.activeRuns > 0;
}

/** What a decision consumes; `undefined` when nothing is due. */
function consumeForDecision(
  input: Omit<DecisionInput, "overlapPolicy" | "activeRuns" | "queued">,
) {
  return consumeDue(input.schedule, input.cursor, {
    now: input.now,
    maxRuns: input.maxRuns,
    timezone: input.timezone,
    dst: input.dst,
    limit: input.missedRunPolicy === MissedRunPolicy.ReplayAll ? 1 : undefined,
  });
}

/**
 * The cursor as an unblocked decision at `now` leaves it. The cursor never
 * depends on what is active or queued (only the action does), so the engine
 * can arm its next wake-up from this before the decision is taken.
 */
export function cursorAfterDecision(
  input: Omit<DecisionInput, "overlapPolicy" | "activeRuns" | "queued">,
): OccurrenceCursor {
  return consumeForDecision(input)?.cursor ?? input.cursor;
}

/**
 * Decides what to do now, or returns `undefined` when nothing is due (or a
 * decision is blocked, see {@linkcode decisionBlocked}).
 */
export function decide(input: DecisionInput): Decision | undefined {
  if (decisionBlocked(input)) return undefined;
  const { now, missedRunPolicy } = input;
  const consumed = consumeForDecision(input);
  if (consumed === undefined) return undefined;
  const late = (at: number) => now - at > input.missedRunToleranceMs;
  const { cursor, count, latest } = consumed;

  let trigger: Trigger | undefined;
  let missed: Skipped | undefined;
  switch (missedRunPolicy) {
    case MissedRunPolicy.Skip:
      if (count === 1 && !late(latest)) {
        trigger = {
          scheduledAt: latest,
          catchUp: false,
          triggerCount: cursor.triggerCount,
        };
      } else {
        missed = { count, scheduledAt: latest, reason: "missed" };
      }
      break;
    case MissedRunPolicy.CatchUpOnce:
      trigger = {
        scheduledAt: latest,
        catchUp: count > 1 || late(latest),
        triggerCount: cursor.triggerCount,
      };
      if (count > 1) {
        missed = {
          count: count - 1,
          scheduledAt: consumed.beforeLatest!,
          reason: "missed",
        };
      }
      break;
    case MissedRunPolicy.ReplayAll: {
      const anotherDue = cursor.nextRunAt !== null && cursor.nextRunAt <= now;
      trigger = {
        scheduledAt: latest,
        catchUp: anotherDue || late(latest),
        triggerCount: cursor.triggerCount,
      };
      break;
    }
  }
  if (trigger === undefined) {
    return { cursor, trigger, action: "none", skipped: missed };
  }
  const overlap = input.overlapPolicy;
  if (overlap === OverlapPolicy.AllowParallel || input.activeRuns === 0) {
    return { cursor, trigger, action: "start", skipped: missed };
  }
  if (overlap === OverlapPolicy.QueueOne) {
    // No decision is taken while a trigger waits, so the occurrences merged
    // here came due while the queue was full: queue-one's overflow.
    return {
      cursor,
      trigger,
      action: "queue",
      skipped: missed && { ...missed, reason: "overlap" },
    };
  }
  // Forbid: everything this decision consumed goes without a run.
  return {
    cursor,
    trigger,
    action: "none",
    skipped: { count, scheduledAt: latest, reason: "overlap" },
  };
}
