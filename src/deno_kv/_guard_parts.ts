/**
 * The parts a Deno KV guard's seed (`_guard_link.ts`) grows into, once per
 * guard: its retries with typed errors, the fencing rule over the counter
 * (with the guard's memory of the tokens it saw) and the reporting of a
 * reset on the public guard. Both the guard's own calls (`_kv_guard.ts`)
 * and a store's single commits (`_leased_writes.ts`) use the same parts, so
 * that tokens never go backwards whichever path granted them.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import { renewalBudget } from "../_retry.ts";
import { FencingWatch } from "../guard/fencing.ts";
import { nextFencingToken } from "./_fencing_counter.ts";
import type { KvGuardLink, KvGuardSeed } from "./_guard_link.ts";
import { guardKv, KV_GUARD_RETRY_BUDGET_MS } from "./_kv_errors.ts";

const parts = new WeakMap<KvGuardSeed, KvGuardLink>();

/** The parts of the guard `seed` came from (the same object every time). */
export function guardParts(seed: KvGuardSeed): KvGuardLink {
  let link = parts.get(seed);
  if (link === undefined) {
    link = build(seed);
    parts.set(seed, link);
  }
  return link;
}

function build(seed: KvGuardSeed): KvGuardLink {
  const fencing = new FencingWatch();
  const { lease, retryBudgetMs, target } = seed;
  return {
    kv: seed.kv,
    lease,
    prefix: seed.prefix,
    guarded: (operation, jobId, body) =>
      guardKv({
        operation,
        jobId,
        budgets: {
          contentionMs: KV_GUARD_RETRY_BUDGET_MS,
          connectionMs: operation === "renew"
            ? renewalBudget(retryBudgetMs, lease)
            : retryBudgetMs,
        },
      }, body),
    nextToken: (jobId, fence, now) =>
      nextFencingToken(fencing, jobId, fence, now),
    reportReset: (grant) => {
      const reset = fencing.granted(grant);
      if (reset !== undefined) {
        target.dispatchEvent(new CustomEvent(reset.type, { detail: reset }));
      }
    },
    // A held lease expires a while after its deadline; only a cleanup hint.
    heldExpiry: () => lease.ttlMs + Math.max(lease.completedRetentionMs, 1),
  };
}
