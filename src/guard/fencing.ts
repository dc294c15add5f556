/**
 * Fencing tokens that keep increasing when the counter behind them is lost
 * (Valkey restarted empty, a Deno KV file deleted): the floor a fresh
 * counter starts from, and the watch that notices a reset.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { jsonSafe } from "../_json_tokens.ts";

/**
 * The detail of the `fencing-reset` event an execution guard dispatches
 * when it finds the fencing counter of a job gone or behind a token it has
 * already granted. The new token is still strictly greater than every
 * token this guard has seen for the job.
 *
 * @example
 * ```ts
 * import type { FencingResetDetail } from "@cloudiful/scheduler";
 * const detail: FencingResetDetail = {
 *   type: "fencing-reset",
 *   jobId: "report",
 *   previousFencingToken: 41n,
 *   fencingToken: 1_775_178_123_000_001n,
 * };
 * console.log(detail.fencingToken > detail.previousFencingToken); // true
 * ```
 */
export interface FencingResetDetail {
  /** The event type. */
  readonly type: "fencing-reset";
  /** The job whose counter was reset. */
  readonly jobId: string;
  /** The highest token this guard had granted or seen for the job. */
  readonly previousFencingToken: bigint;
  /** The token granted now, from the re-seeded counter. */
  readonly fencingToken: bigint;
}

/**
 * Where a counter that does not exist starts: microseconds since the epoch
 * of `nowMs`. A counter lost and re-created later starts above everything
 * the old one granted, as long as it granted fewer than a million tokens
 * per second on average and the clock did not go back.
 */
export function fencingSeed(nowMs: number): bigint {
  return BigInt(Math.floor(nowMs)) * 1000n;
}

/** How a grant found its counter. */
export type CounterFound = "present" | "absent" | "behind";

/** The highest token a guard has seen per job, and reset detection. */
export class FencingWatch {
  readonly #highest = new Map<string, bigint>();

  /** The highest token seen for `jobId`, `0n` when none. */
  floor(jobId: string): bigint {
    return this.#highest.get(jobId) ?? 0n;
  }

  /**
   * Records a granted token. Returns the `fencing-reset` detail when the
   * counter was found absent or behind after this guard had seen a token
   * for the job.
   */
  granted(
    grant: { jobId: string; fencingToken: bigint; counter: CounterFound },
  ): FencingResetDetail | undefined {
    const { jobId, fencingToken, counter } = grant;
    const previous = this.#highest.get(jobId);
    if (previous === undefined || fencingToken > previous) {
      this.#highest.set(jobId, fencingToken);
    }
    if (counter === "present" || previous === undefined) return undefined;
    return jsonSafe<FencingResetDetail>({
      type: "fencing-reset",
      jobId,
      previousFencingToken: previous,
      fencingToken,
    });
  }
}
