/**
 * The options of the Valkey execution guard.
 *
 * @module
 */

import type { ValkeyKeyLayout } from "./connection.ts";

/**
 * Options of `ValkeyExecutionGuard.connect`.
 *
 * @example
 * ```ts
 * import type { ValkeyExecutionGuardOptions } from "@cloudiful/scheduler/valkey";
 * // For ValkeyExecutionGuard.connect(url, lease, options).
 * const options: ValkeyExecutionGuardOptions = { keyPrefix: "my-app:lease:" };
 * ```
 */
export interface ValkeyExecutionGuardOptions {
  /**
   * Lease keys are `<keyPrefix><jobId>:<scheduledAt>` (RFC 3339 UTC, nine
   * fractional digits); the fencing counter is
   * `<keyPrefix><jobId>:fencing-token`. With the `"cluster"` layout the job
   * id is a hash tag: `<keyPrefix>{<jobId>}:...`. Not empty, no control
   * characters; no braces with the `"cluster"` layout.
   *
   * @default {"scheduler:valkey:execution-lease:"}
   */
  keyPrefix?: string;
  /**
   * How keys are named (see {@linkcode ValkeyKeyLayout}): `"cluster"` on a
   * Cluster (the only layout it accepts), `"rust"` elsewhere. Every
   * instance sharing the keys must use the same layout; `connect()` refuses
   * keys claimed by another one.
   *
   * @default {"rust" ("cluster" on a Cluster)}
   */
  keyLayout?: ValkeyKeyLayout;
  /**
   * How long an acquire or release retries connection-class failures with a
   * capped exponential back-off before it fails with kind `connection`; a
   * renewal retries no longer than its lease can still be alive
   * (`ttlMs - renewIntervalMs`). 0 fails at once.
   *
   * @default {10000}
   */
  retryBudgetMs?: number;
  /**
   * Opt-in: a grant counts only once `WAIT` confirms that this many
   * replicas have it, so the lease itself (not only the fencing order)
   * survives a failover. Costs one more round trip per grant, as long as
   * the slowest of those replicas takes to acknowledge (see
   * `docs/valkey.md`). On a Cluster the grant and its `WAIT` go to the
   * primary that serves the job's slot, on one connection.
   *
   * @default {undefined (no wait)}
   */
  durability?: ValkeyDurability;
}

/**
 * How many replicas must acknowledge a grant, and how long to wait for
 * them. A grant that fewer replicas acknowledged in time fails with kind
 * `connection` (the occurrence is reported as an acquire failure and its
 * lease left to expire, so it never runs twice).
 *
 * @example
 * ```ts
 * import type { ValkeyDurability } from "@cloudiful/scheduler/valkey";
 * const durability: ValkeyDurability = { replicas: 1, timeoutMs: 500 };
 * console.log(durability.replicas);
 * ```
 */
export interface ValkeyDurability {
  /** Replicas that must acknowledge, at least 1. */
  readonly replicas: number;
  /** How long to wait for them, at least 1 ms. */
  readonly timeoutMs: number;
}
