/**
 * Damaged guard data on Deno KV set aside: the damaged entry moves, in one
 * checked commit, to a quarantine key an operator can inspect
 * (`[...prefix, "quarantine", ...the key after the prefix, movedAtMs]`, see
 * docs/recovery.md), so that the next grant finds the key free and the job
 * goes on. The error that reports it names both keys.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import { ExecutionGuardErrorKind } from "../constants.ts";
import { describeThrown, ExecutionGuardError, isInstance } from "../errors.ts";
import { describeKvKey } from "./_kv_errors.ts";

/** Where the damaged entry `key` is moved at `now`. */
export function quarantineKey(
  prefix: Deno.KvKey,
  key: Deno.KvKey,
  now: number,
): Deno.KvKey {
  return [...prefix, "quarantine", ...key.slice(prefix.length), now];
}

/**
 * Moves `entry` (unless it changed since it was read) to its quarantine key
 * and answers the `data` error to report, naming both keys; `reason` says
 * what is wrong with it (a decoding error's message, or why it is orphaned).
 */
export async function setAside(
  kv: Deno.Kv,
  options: {
    prefix: Deno.KvKey;
    entry: Deno.KvEntryMaybe<unknown>;
    reason: string;
  },
): Promise<ExecutionGuardError> {
  const { prefix, entry, reason } = options;
  const moved = quarantineKey(prefix, entry.key, Date.now());
  const committed = await moveAside(kv.atomic(), { entry, to: moved })
    .commit();
  return setAsideError({
    key: entry.key,
    reason,
    movedTo: committed.ok ? moved : undefined,
  });
}

/**
 * The `data` error that reports the damaged entry at `key`, naming it and
 * where it was moved (`movedTo`; absent: it changed meanwhile, and was
 * left in place).
 */
export function setAsideError(
  options: { key: Deno.KvKey; reason: string; movedTo?: Deno.KvKey },
): ExecutionGuardError {
  const { reason, movedTo } = options;
  const where = movedTo !== undefined
    ? `set aside at ${describeKvKey(movedTo)}`
    : "changed meanwhile, left in place";
  const key = describeKvKey(options.key);
  const named = reason.includes(key) ? reason : `${key}: ${reason}`;
  return new ExecutionGuardError(`${named} (${where})`, {
    kind: ExecutionGuardErrorKind.Data,
  });
}

/**
 * `read()`, or when it throws a `data` error (the entry is damaged), the
 * entry set aside and that error thrown, naming where it went.
 */
export async function readOrSetAside<T>(
  kv: Deno.Kv,
  options: { prefix: Deno.KvKey; entry: Deno.KvEntryMaybe<unknown> },
  read: () => T,
): Promise<T> {
  try {
    return read();
  } catch (error) {
    if (!isDamage(error)) throw error;
    throw await setAside(kv, { ...options, reason: describeThrown(error) });
  }
}

/** Whether `error` says that an entry is damaged (kind `data`). */
export function isDamage(error: unknown): error is ExecutionGuardError {
  return isInstance(error, ExecutionGuardError) &&
    error.kind === ExecutionGuardErrorKind.Data;
}

/**
 * Adds to `operation` the move of `entry` to `to` (its quarantine key),
 * checked on the versionstamp it was read with.
 */
export function moveAside(
  operation: Deno.AtomicOperation,
  options: { entry: Deno.KvEntryMaybe<unknown>; to: Deno.KvKey },
): Deno.AtomicOperation {
  const { entry, to } = options;
  return operation.check(entry).set(to, entry.value).delete(entry.key);
}
