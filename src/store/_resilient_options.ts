/**
 * The checked construction of a `ResilientStateStore`: its primary, which
 * primary failures it masks, and how often it probes the primary while
 * degraded.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { InvalidJobKind, StoreErrorKind } from "../constants.ts";
import {
  describeValue,
  InvalidJobError,
  isInstance,
  StoreError,
} from "../errors.ts";
import { checkOptions } from "../_options.ts";

function isConnectionStoreError(error: unknown): boolean {
  return isInstance(error, StoreError) &&
    error.kind === StoreErrorKind.Connection;
}

/** The options of a resilient store, defaults applied. */
export interface Resilience {
  readonly isConnectionError: (error: unknown) => boolean;
  readonly probeIntervalMs: number;
}

/**
 * Checks a resilient store's `primary` and options.
 *
 * @throws {InvalidJobError} kind `other` for an invalid `probeIntervalMs`
 * or a `primary` that is not a store.
 */
export function resolveResilience(
  primary: unknown,
  options: {
    isConnectionError?(error: unknown): boolean;
    probeIntervalMs?: number;
  },
): Resilience {
  const store = primary as Record<string, unknown> | undefined;
  if (
    typeof store?.load !== "function" ||
    typeof store?.save !== "function" ||
    typeof store?.delete !== "function"
  ) {
    throw new InvalidJobError(
      "ResilientStateStore needs a primary store with load, save and delete",
      { kind: InvalidJobKind.Other },
    );
  }
  checkOptions(options, {
    what: "ResilientStateStore options",
    known: ["isConnectionError", "probeIntervalMs"],
  });
  const probe = options.probeIntervalMs === undefined
    ? 5000
    : options.probeIntervalMs;
  if (typeof probe !== "number" || !Number.isFinite(probe) || probe < 0) {
    throw new InvalidJobError(
      `probeIntervalMs must be a finite number of milliseconds >= 0, got ${
        describeValue(probe)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  return {
    isConnectionError: options.isConnectionError ?? isConnectionStoreError,
    probeIntervalMs: probe,
  };
}
