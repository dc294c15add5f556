/**
 * Deterministic jitter: the delay of an occurrence as a pure function of the
 * job id and the occurrence's nominal instant, so every instance computes the
 * same delay and the guard still sees one slot per occurrence.
 *
 * @module
 */

import { InvalidJobKind } from "../../constants.ts";
import { describeValue, InvalidJobError } from "../../errors.ts";

/** The largest jitter accepted: one day. */
export const MAX_JITTER_MS = 86_400_000;

/** Checks `withJitter(maxMs)`'s argument. */
export function validateJitter(maxMs: unknown): number {
  if (
    typeof maxMs !== "number" || !Number.isSafeInteger(maxMs) || maxMs < 0 ||
    maxMs > MAX_JITTER_MS
  ) {
    throw new InvalidJobError(
      `withJitter maxMs must be an integer from 0 to ${MAX_JITTER_MS} ms, got ${
        describeValue(maxMs)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  return maxMs;
}

/**
 * A 32-bit hash of `text`: FNV-1a over its UTF-16 code units, then a
 * murmur3-style finalizer so that neighbouring instants spread over the whole
 * range instead of clustering.
 */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The delay of the occurrence at `scheduledAtMs` of job `jobId`, in
 * `[0, maxMs)`; 0 when `maxMs` is 0. The same on every instance and runtime.
 */
export function jitterDelay(
  jobId: string,
  scheduledAtMs: number,
  maxMs: number,
): number {
  if (maxMs === 0) return 0;
  return Math.floor(hash32(`${jobId}\n${scheduledAtMs}`) / 2 ** 32 * maxMs);
}

/**
 * The jitter of one job, as the two functions the engine needs.
 *
 * - `wakeInstant(nominal)`: when an occurrence is really due (the instant to
 *   sleep until).
 * - `decisionNow(now, nextNominal)`: "now" as the missed-run decision must
 *   see it, shifted back by the next occurrence's jitter, so that it becomes
 *   due only at its jittered instant (not earlier, when something else wakes
 *   the engine) and its lateness is measured from that instant (a jitter
 *   larger than `missedRunToleranceMs` must not make every run late).
 */
export class Jitter {
  readonly #jobId: string;
  readonly #maxMs: number;

  constructor(jobId: string, maxMs: number) {
    this.#jobId = jobId;
    this.#maxMs = maxMs;
  }

  /** The delay of the occurrence at `nominalMs`. */
  delay(nominalMs: number): number {
    return jitterDelay(this.#jobId, nominalMs, this.#maxMs);
  }

  /** When the occurrence at `nominalMs` is due. */
  wakeInstant(nominalMs: number): number {
    return nominalMs + this.delay(nominalMs);
  }

  /** The instant the decision treats as now (see the class). */
  decisionNow(now: number, nextNominalMs: number | null): number {
    if (nextNominalMs === null || this.#maxMs === 0) return now;
    return now - this.delay(nextNominalMs);
  }
}
