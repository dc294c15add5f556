/**
 * What a Deno KV guard lends to a state store on the same database, so that
 * the store can take and end the guard's leases in its own commits
 * (`_leased_writes.ts`): the guard's database, key prefix, lease config,
 * fencing counter rule and reset reporting. Kept beside the guard, not on
 * it, so that nothing of it shows on the public class.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import type { KvLedgerOptions } from "./_in_flight_ledger.ts";

/** A guard's lent parts: the same ones its in-flight ledger borrows. */
export type KvGuardLink = KvLedgerOptions;

const links = new WeakMap<object, KvGuardLink>();

/** Lends `guard`'s parts to stores on its database. */
export function linkGuard(guard: object, link: KvGuardLink): void {
  links.set(guard, link);
}

/** The parts `guard` lends, when it is a Deno KV guard. */
export function guardLink(guard: unknown): KvGuardLink | undefined {
  return typeof guard === "object" && guard !== null
    ? links.get(guard)
    : undefined;
}
