/**
 * What the engine's decisions and its wake-up timer share: the parts of a
 * decision's input that move the occurrence cursor, and, from inside the
 * timer's callback, the instant of the next wake-up (see `_wake_clock.ts`).
 * Pure apart from the cursor it remembers.
 *
 * @module
 */

import type { OccurrenceCursor } from "../../schedule/_occurrences.ts";
import type { ResolvedConfig } from "../job/config.ts";
import { cursorAfterDecision, type DecisionInput } from "./_decide.ts";
import type { Jitter } from "../job/_jitter.ts";
import type { Job } from "../job/job.ts";

/** The cursor-moving half of a decision's input, and wake-up prediction. */
export class WakePlan<D> {
  readonly #job: Job<D>;
  readonly #config: ResolvedConfig;
  readonly #jitter: Jitter;
  /** The cursor the wake-up timer predicts from. */
  #cursor: OccurrenceCursor = { triggerCount: 0, nextRunAt: null };

  constructor(job: Job<D>, config: ResolvedConfig, jitter: Jitter) {
    this.#job = job;
    this.#config = config;
    this.#jitter = jitter;
  }

  /**
   * The parts of a decision's input that move the cursor, at the wall-clock
   * (or burst) instant `at`, which jitter shifts back to the nominal grid.
   */
  cursorInput(
    cursor: OccurrenceCursor,
    at: number,
  ): Omit<DecisionInput, "overlapPolicy" | "activeRuns" | "queued"> {
    const job = this.#job;
    const config = this.#config;
    return {
      schedule: job.schedule,
      maxRuns: job.maxRuns,
      missedRunPolicy: job.missedRunPolicy,
      missedRunToleranceMs: config.missedRunToleranceMs,
      timezone: config.timezone,
      dst: config.dst,
      cursor,
      now: this.#jitter.decisionNow(at, cursor.nextRunAt),
    };
  }

  /**
   * A whole decision's input, built as one object (not spread from
   * {@linkcode cursorInput}): this is on every run's path.
   */
  decisionInput(
    beside:
      & Pick<
        DecisionInput,
        "cursor" | "overlapPolicy" | "activeRuns" | "queued"
      >
      & {
        /** The wall-clock (or burst) instant, as for `cursorInput`. */
        readonly at: number;
      },
  ): DecisionInput {
    const job = this.#job;
    const config = this.#config;
    const { cursor } = beside;
    return {
      schedule: job.schedule,
      maxRuns: job.maxRuns,
      missedRunPolicy: job.missedRunPolicy,
      missedRunToleranceMs: config.missedRunToleranceMs,
      timezone: config.timezone,
      dst: config.dst,
      cursor,
      now: this.#jitter.decisionNow(beside.at, cursor.nextRunAt),
      overlapPolicy: beside.overlapPolicy,
      activeRuns: beside.activeRuns,
      queued: beside.queued,
    };
  }

  /** Predicts from `cursor` on: the loop armed a wake-up for it. */
  resetTo(cursor: OccurrenceCursor): void {
    this.#cursor = cursor;
  }

  /**
   * From inside the wake-up timer's callback: where the decision at
   * `firedAt` will leave the cursor, so that the next timer is armed before
   * a fake clock's synchronous pass moves on. Only a future instant is
   * armed: a backlog due at once is worked off by the loop without timers.
   */
  predictNext(firedAt: number): number | null {
    this.#cursor = cursorAfterDecision(
      this.cursorInput(this.#cursor, firedAt),
    );
    const next = this.#cursor.nextRunAt;
    if (next === null) return null;
    const wakeAt = this.#jitter.wakeInstant(next);
    return wakeAt > firedAt ? wakeAt : null;
  }
}
