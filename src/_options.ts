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
 * without unknown keys.
 *
 * @throws {InvalidJobError} kind `other`, naming `what` and the unknown key(s)
 * and listing the known ones.
 */
export function checkOptions<T extends object>(
  value: T | undefined,
  expected: { what: string; known: readonly string[] },
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
  return value;
}
