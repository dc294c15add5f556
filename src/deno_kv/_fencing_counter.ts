/**
 * The fencing counter of the Deno KV guard: the token a grant allots over
 * the counter entry it read, committed in the same step as the lease.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import { ExecutionGuardErrorKind } from "../constants.ts";
import { describeValue, ExecutionGuardError } from "../errors.ts";
import {
  type CounterFound,
  fencingSeed,
  type FencingWatch,
} from "../guard/fencing.ts";
import { describeKvKey } from "./_kv_errors.ts";

/**
 * The token to grant next over the counter entry `fence`. A missing
 * counter (the file was deleted) starts from the time, and never below a
 * token `fencing` has seen: tokens never repeat.
 *
 * @throws {ExecutionGuardError} kind `data` for a corrupt counter.
 */
export function nextFencingToken(
  fencing: FencingWatch,
  jobId: string,
  fence: Deno.KvEntryMaybe<unknown>,
  now: number,
): { fencingToken: bigint; counter: CounterFound } {
  if (fence.value !== null && typeof fence.value !== "bigint") {
    throw new ExecutionGuardError(
      `the fencing counter ${describeKvKey(fence.key)} of job ${
        JSON.stringify(jobId)
      } is corrupt: ${describeValue(fence.value)}`,
      { kind: ExecutionGuardErrorKind.Data },
    );
  }
  const floor = fencing.floor(jobId);
  const base = fence.value ?? fencingSeed(now);
  const counter = fence.value === null
    ? "absent"
    : floor > fence.value
    ? "behind"
    : "present";
  return { fencingToken: (floor > base ? floor : base) + 1n, counter };
}
