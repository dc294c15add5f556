/**
 * Deno KV exists only on Deno. The Deno KV classes are exported on every
 * runtime (importing the package never touches `Deno`), so the entry points
 * that would reach for `Deno` refuse elsewhere with the documented
 * `InvalidJobError` (docs/node_and_bun.md) instead of a `ReferenceError`.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { InvalidJobError } from "../errors.ts";

/** Throws `InvalidJobError` kind `other` unless `Deno.openKv` exists. */
export function requireDenoKv(what: string): void {
  const global = globalThis as {
    Deno?: { openKv?: unknown };
    navigator?: { userAgent?: unknown };
  };
  if (typeof global.Deno?.openKv === "function") return;
  const agent = global.navigator?.userAgent;
  const runtime = typeof agent === "string" ? agent : "unknown";
  throw new InvalidJobError(
    global.Deno === undefined
      ? `${what} needs Deno (Deno KV is Deno only); this runtime is ${runtime}`
      : `${what} needs Deno.openKv: run with --unstable-kv or "unstable": ["kv"] in deno.json`,
    { kind: InvalidJobKind.Other },
  );
}
