/**
 * What the Deno KV store and guard check on their way in: a `Deno.Kv`, key
 * prefixes, and the store's options.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import { checkOptions } from "../_options.ts";
import { resolveRetryBudget } from "../_retry.ts";

/** The default key prefix of job states. */
export const DEFAULT_STATE_KEY_PREFIX: Deno.KvKey = ["scheduler", "job-state"];

/** Checks a key prefix and returns a copy. */
export function validateKeyPrefix(prefix: unknown, what: string): Deno.KvKey {
  const valid = Array.isArray(prefix) &&
    prefix.every((part) =>
      ["string", "number", "bigint", "boolean"].includes(typeof part) ||
      part instanceof Uint8Array
    );
  if (!valid) {
    throw new InvalidJobError(
      `${what} keyPrefix must be an array of Deno KV key parts (strings, numbers, bigints, booleans, Uint8Arrays), got ${
        describeValue(prefix)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  return [...(prefix as Deno.KvKeyPart[])];
}

/** Checks that a value looks like an open `Deno.Kv`. */
export function requireKv(kv: unknown, what: string): Deno.Kv {
  const candidate = kv as Partial<Deno.Kv> | null;
  if (
    typeof candidate?.get !== "function" ||
    typeof candidate?.atomic !== "function" ||
    typeof candidate?.set !== "function"
  ) {
    throw new InvalidJobError(
      `${what} needs a Deno.Kv (from Deno.openKv()), got ${describeValue(kv)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  return kv as Deno.Kv;
}

/**
 * The state store's options checked (`what` names them in errors): its key
 * prefix (a copy, the default when omitted) and retry budget.
 */
export function storeOptions(
  options: { keyPrefix?: Deno.KvKey; retryBudgetMs?: number },
  what: string,
): { prefix: Deno.KvKey; retryBudgetMs: number } {
  checkOptions(options, { what, known: ["keyPrefix", "retryBudgetMs"] });
  return {
    prefix: validateKeyPrefix(
      options?.keyPrefix === undefined
        ? DEFAULT_STATE_KEY_PREFIX
        : options.keyPrefix,
      "DenoKvStateStore",
    ),
    retryBudgetMs: resolveRetryBudget(
      options?.retryBudgetMs,
      "DenoKvStateStore",
    ),
  };
}
