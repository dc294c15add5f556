/**
 * What a Deno KV guard lends to a state store on the same database, so that
 * the store can take and end the guard's leases in its own commits
 * (`_leased_writes.ts`). Kept beside the guard, not on it, so that nothing
 * of it shows on the public class.
 *
 * The guard registers its checked settings (a seed) when it is built, so
 * that `sharesWith` answers synchronously before anything of the backend's
 * implementation has loaded; the parts built on them (retries, the fencing
 * rule, reset reporting) come from `_guard_parts.ts`, once per guard,
 * shared by the guard's own calls and the store's commits.
 *
 * @module
 */

import type { KvLedgerOptions } from "./_in_flight_ledger.ts";
import type { ResolvedLeaseConfig } from "../guard/lease_config.ts";

/** A guard's lent parts: the same ones its in-flight ledger borrows. */
export type KvGuardLink = KvLedgerOptions;

/** A guard's checked settings, and where it dispatches its events. */
export interface KvGuardSeed {
  readonly kv: Deno.Kv;
  readonly lease: ResolvedLeaseConfig;
  readonly prefix: Deno.KvKey;
  readonly retryBudgetMs: number;
  /** The public guard, which dispatches `fencing-reset`. */
  readonly target: EventTarget;
}

const seeds = new WeakMap<object, KvGuardSeed>();

/** Lends `guard`'s settings to stores on its database. */
export function linkGuard(guard: object, seed: KvGuardSeed): void {
  seeds.set(guard, seed);
}

/** The guard's key areas; state keys inside one would meet its keys. */
const GUARD_AREAS = new Set(["lease", "fence", "in-flight", "quarantine"]);

function samePart(a: Deno.KvKeyPart, b: Deno.KvKeyPart): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }
  return typeof a === typeof b && a === b;
}

/** Whether state keys under `statePrefix` fall in a guard key area. */
function insideGuardKeys(statePrefix: Deno.KvKey, guardPrefix: Deno.KvKey) {
  if (statePrefix.length <= guardPrefix.length) return false;
  return guardPrefix.every((part, i) => samePart(part, statePrefix[i])) &&
    GUARD_AREAS.has(statePrefix[guardPrefix.length] as string);
}

/**
 * The settings `guard` lends when it is a Deno KV guard on `store.kv` whose
 * keys cannot meet the state keys under `store.prefix`.
 */
export function sharedSeed(
  store: { readonly kv: Deno.Kv; readonly prefix: Deno.KvKey },
  guard: unknown,
): KvGuardSeed | undefined {
  const seed = typeof guard === "object" && guard !== null
    ? seeds.get(guard)
    : undefined;
  return seed === undefined || seed.kv !== store.kv ||
      insideGuardKeys(store.prefix, seed.prefix)
    ? undefined
    : seed;
}
