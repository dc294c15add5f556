/**
 * One `Date` per occurrence instead of two on the steady path: the `Date` the
 * loop made for a state's `nextRunAt` becomes the `scheduledAt` of the run
 * that consumes it, when nothing but the loop ever held it (docs/testing.md,
 * "What a firing costs").
 *
 * @module
 */

/** Hands the `Date` of a consumed `nextRunAt` on to its run's context. */
export class DateHandoff {
  /**
   * Whether the `Date`s of the states the loop makes stay with it: saved by
   * the in-memory store (which keeps numbers) with the single-instance
   * guard, so no store, guard or listener ever holds one.
   */
  readonly #stayHere: boolean;
  /** The `Date` the loop made for the current state's `nextRunAt`. */
  #made: Date | null = null;
  /** That `Date` once its occurrence was consumed. */
  #consumed: Date | null = null;

  constructor(datesStayHere: boolean) {
    this.#stayHere = datesStayHere;
  }

  /**
   * A decision replaced the state whose `nextRunAt` was `consumed` by one
   * whose `nextRunAt` is `made` (both as the loop holds them).
   */
  decided(consumed: Date | null, made: Date | null): void {
    this.#consumed = consumed !== null && consumed === this.#made
      ? consumed
      : null;
    this.#made = this.#stayHere ? made : null;
  }

  /**
   * The `Date` for a first attempt's `scheduledAt`: the consumed one when it
   * is that instant, else a new one. Handed out once, so a task that changes
   * its own `Date` changes nothing anyone else sees.
   */
  take(scheduledAt: number): Date {
    const consumed = this.#consumed;
    if (consumed !== null && consumed.getTime() === scheduledAt) {
      this.#consumed = null;
      return consumed;
    }
    return new Date(scheduledAt);
  }
}
