/**
 * The holder token of a Valkey grant without an in-flight record (the
 * guard's plain acquire, a leased grant without a record): the lease key
 * holds `lease-<acquire id>-<fencing token>`, so that a retry of the same
 * acquire whose first reply was lost finds its grant and its token there
 * (`OWN_GRANT` in `_lua_lib.ts`; docs/valkey.md, "A grant whose reply was
 * lost"). A grant with a record keeps a UUID in the lease key and its
 * token in the record.
 *
 * @module
 */

import type { ExecutionGuardAcquire } from "../guard/lease.ts";

/**
 * A new acquire id: 20 decimal digits (64 random bits), minted once per
 * acquire and sent again by its retries. Twenty digits are never the 19
 * of a Rust crate holder's `lease-<nanoseconds>-<counter>`.
 */
export function newAcquireId(): string {
  const [bits] = crypto.getRandomValues(new BigUint64Array(1));
  return String(bits).padStart(20, "0");
}

/**
 * `answer` with the holder token its grant wrote when it is acquired
 * (`lease-<id>-<fencing token>`), the lease's key and renewals then
 * compare that value; a contended answer as it is.
 */
export function recordlessGrant(
  answer: ExecutionGuardAcquire,
  id: string,
): ExecutionGuardAcquire {
  if (answer.kind !== "acquired") return answer;
  const token = `lease-${id}-${answer.lease.fencingToken}`;
  return { kind: "acquired", lease: { ...answer.lease, token } };
}
