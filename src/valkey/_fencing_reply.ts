/**
 * The fencing token a granting script of the Valkey guard answers (acquire,
 * in-flight acquire, reclaim): read, checked, and recorded against the
 * highest token the guard has seen, which tells a counter reset.
 *
 * @module
 */

import { ExecutionGuardErrorKind } from "../constants.ts";
import { describeValue, ExecutionGuardError } from "../errors.ts";
import type { FencingResetDetail, FencingWatch } from "../guard/fencing.ts";
import type { ExecutionGuardAcquire, ExecutionLease } from "../guard/lease.ts";

/**
 * The answer to a granting script's `reply`: contended for nil (with a
 * `note` naming the key for `{"unrecognised", value}`), else the
 * lease with its fencing token, and the `fencing-reset` detail when
 * `fencing` finds the counter was reset.
 *
 * @throws {ExecutionGuardError} kind `data` for a reply that is not
 * `{token, "present" | "absent" | "behind"}`.
 */
export function readGrant(
  reply: unknown,
  lease: Omit<ExecutionLease, "fencingToken">,
  fencing: FencingWatch,
): { answer: ExecutionGuardAcquire; reset?: FencingResetDetail } {
  if (reply === null) return { answer: { kind: "contended" } };
  const [text, counter] = Array.isArray(reply) ? reply : [];
  if (text === "unrecognised" && typeof counter === "string") {
    // Taken (it may be a real holder's), but never silently.
    return {
      answer: {
        kind: "contended",
        note: `the lease key ${lease.leaseKey} of job ${
          JSON.stringify(lease.jobId)
        } holds ${
          describeValue(counter)
        }, neither a holder's token nor a done marker this library or the Rust crate writes; it is taken as another holder's (docs/recovery.md)`,
      },
    };
  }
  if (
    typeof text !== "string" || !/^[0-9]+$/.test(text) ||
    !["present", "absent", "behind"].includes(counter)
  ) {
    throw new ExecutionGuardError(
      `Valkey acquire for job ${JSON.stringify(lease.jobId)} answered ${
        describeValue(reply)
      } instead of a fencing token`,
      { kind: ExecutionGuardErrorKind.Data },
    );
  }
  const fencingToken = BigInt(text);
  const reset = fencing.granted({ jobId: lease.jobId, fencingToken, counter });
  return {
    answer: {
      kind: "acquired",
      lease: {
        jobId: lease.jobId,
        scheduledAt: new Date(lease.scheduledAt.getTime()),
        token: lease.token,
        leaseKey: lease.leaseKey,
        fencingToken,
      },
    },
    reset,
  };
}
