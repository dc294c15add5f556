/**
 * The one check of every options object: it is an object, and it has no key
 * that the receiver does not know. A misspelt option (`{ gaurd }`,
 * `{ sigal }`) would otherwise be ignored and silently mean "not given".
 *
 * Runtime-neutral.
 *
 * @module
 */

import { InvalidJobKind } from "./constants.ts";
import { describeValue, InvalidJobError } from "./errors.ts";

/**
 * Returns `value` (or `{}` when it is `undefined`) once it is an object
 * without unknown keys, and without `null` for any of the keys in `notNull`.
 *
 * `notNull` names the options whose default is a thing built in their place
 * (a store, a guard, an observer, the job id): `null` is refused, not
 * defaulted, and only a missing option (absent or `undefined`) takes its
 * default. A store that failed to open (`let store = null`) would otherwise
 * run on an in-memory store and lose its state at every restart, without a
 * word.
 *
 * @throws {InvalidJobError} kind `other`, naming `what` and the unknown key(s)
 * and listing the known ones, or naming the option that is `null`.
 */
export function checkOptions<T extends object>(
  value: T | undefined,
  expected: {
    what: string;
    known: readonly string[];
    notNull?: readonly string[];
  },
): T {
  if (value === undefined) return {} as T;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidJobError(
      `${expected.what} must be an object, got ${describeValue(value)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  const unknown = Object.keys(value).filter((key) =>
    !expected.known.includes(key)
  );
  if (unknown.length > 0) {
    throw new InvalidJobError(
      `${expected.what} has unknown option(s) ${
        unknown.map((key) => JSON.stringify(key)).join(", ")
      }; known: ${expected.known.join(", ")}`,
      { kind: InvalidJobKind.Other },
    );
  }
  for (const key of expected.notNull ?? []) {
    if ((value as Record<string, unknown>)[key] === null) {
      throw new InvalidJobError(
        `${expected.what}: ${key} is null, which is refused rather than defaulted; leave ${key} out (or undefined) for its default`,
        { kind: InvalidJobKind.Other },
      );
    }
  }
  return value;
}
