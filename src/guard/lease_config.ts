/**
 * Lease configuration shared by the execution guards, and its validation.
 *
 * @module
 */

import { ExecutionGuardErrorKind, InvalidJobKind } from "../constants.ts";
import {
  describeValue,
  ExecutionGuardError,
  InvalidJobError,
} from "../errors.ts";
import type { ExecutionLease, ExecutionSlot } from "./execution_guard.ts";
import type { InFlightSlot } from "./in_flight.ts";
import { checkOptions } from "../_options.ts";

/**
 * How long a lease lasts and how often it is renewed.
 *
 * @example
 * ```ts
 * import type { LeaseConfig } from "@cloudiful/scheduler";
 * const lease: LeaseConfig = { ttlMs: 30_000, renewIntervalMs: 10_000 };
 * ```
 */
export interface LeaseConfig {
  /** How long a lease is held without renewal. */
  ttlMs: number;
  /** How often a running run renews its lease; less than `ttlMs`. */
  renewIntervalMs: number;
  /**
   * How long a released occurrence stays marked done, so that a lagging
   * instance cannot run it again.
   *
   * @default {3600000}
   */
  completedRetentionMs?: number;
}

/** A validated lease configuration. */
export interface ResolvedLeaseConfig {
  readonly ttlMs: number;
  readonly renewIntervalMs: number;
  readonly completedRetentionMs: number;
}

/** One hour. */
export const DEFAULT_COMPLETED_RETENTION_MS = 3_600_000;

/**
 * The longest lease duration or retention accepted: 365 days. Backends turn
 * these into expiries (Deno KV refuses `expireIn` beyond ~8.2e15 ms), and a
 * lease longer than a year is a configuration mistake.
 */
export const MAX_LEASE_MS: number = 365 * 24 * 3_600_000;

/**
 * How far beyond the longest lease (`MAX_LEASE_MS`) a lease's deadline or
 * expiry may lie before it is damaged guard data: one day, for clocks that
 * differ between the hosts that write and read it (Deno KV), or between
 * the servers a replicated expiry moves to in a failover and a wall clock
 * stepped back (Valkey); docs/stores.md, "Clocks".
 */
export const DEADLINE_SKEW_MS: number = 24 * 3_600_000;

/**
 * The furthest ahead a live lease's deadline or expiry can be read, by any
 * clock: the longest lease plus {@linkcode DEADLINE_SKEW_MS}. Beyond it, a
 * lease is damaged guard data on both backends and in the status view.
 */
export const LATEST_LEASE_END_MS: number = MAX_LEASE_MS + DEADLINE_SKEW_MS;

function leaseError(message: string): ExecutionGuardError {
  return new ExecutionGuardError(message, {
    kind: ExecutionGuardErrorKind.Data,
  });
}

function requireWholeMs(name: string, value: unknown, min: number): number {
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < min ||
    value > MAX_LEASE_MS
  ) {
    throw leaseError(
      `execution guard ${name} must be a whole number of milliseconds from ${min} to ${MAX_LEASE_MS} (365 days), got ${
        describeValue(value)
      }`,
    );
  }
  return value;
}

/**
 * Validates a lease configuration: `ttlMs` > 0, `renewIntervalMs` > 0 and
 * below `ttlMs`, `completedRetentionMs` >= 0, all safe integers.
 *
 * @throws {ExecutionGuardError} kind `data`, naming the bad value.
 * @throws {InvalidJobError} kind `other` for an unknown key (a typo).
 */
export function resolveLeaseConfig(config: LeaseConfig): ResolvedLeaseConfig {
  if (typeof config !== "object" || config === null) {
    throw leaseError(
      `execution guard lease config must be an object such as { ttlMs: 30000, renewIntervalMs: 10000 }, got ${
        describeValue(config)
      }`,
    );
  }
  checkOptions(config, {
    what: "execution guard lease config",
    known: ["ttlMs", "renewIntervalMs", "completedRetentionMs"],
  });
  const ttlMs = requireWholeMs("ttlMs", config.ttlMs, 1);
  const renewIntervalMs = requireWholeMs(
    "renewIntervalMs",
    config.renewIntervalMs,
    1,
  );
  if (renewIntervalMs >= ttlMs) {
    throw leaseError(
      `execution guard renewIntervalMs (${renewIntervalMs}) must be less than ttlMs (${ttlMs})`,
    );
  }
  const completedRetentionMs = config.completedRetentionMs === undefined
    ? DEFAULT_COMPLETED_RETENTION_MS
    : requireWholeMs("completedRetentionMs", config.completedRetentionMs, 0);
  return { ttlMs, renewIntervalMs, completedRetentionMs };
}

/**
 * Checks the slot an acquire was asked for, returning its instant.
 *
 * @throws {ExecutionGuardError} kind `data` without a string job id and a
 * valid `Date`.
 */
export function requireSlot(slot: ExecutionSlot): Date {
  const scheduledAt = slot?.scheduledAt;
  if (
    typeof slot?.jobId !== "string" || !(scheduledAt instanceof Date) ||
    Number.isNaN(scheduledAt.getTime())
  ) {
    throw leaseError(
      `execution guard acquire needs a slot { jobId, scheduledAt }, got ${
        describeValue(slot)
      }`,
    );
  }
  return scheduledAt;
}

/**
 * Checks a lease handed back to end it with a state (a store's leased
 * writes), before anything is written: a string job id (equal to
 * `stateJobId` when given), a string token and lease key, a valid `Date`.
 * Returns its instant.
 *
 * @throws {InvalidJobError} kind `other`, naming what is wrong.
 */
export function requireLeaseOf(
  lease: ExecutionLease,
  stateJobId?: string,
): Date {
  const scheduledAt = lease?.scheduledAt;
  if (
    typeof lease?.jobId !== "string" ||
    (stateJobId !== undefined && lease.jobId !== stateJobId) ||
    typeof lease.token !== "string" || typeof lease.leaseKey !== "string" ||
    !(scheduledAt instanceof Date) || Number.isNaN(scheduledAt.getTime())
  ) {
    throw new InvalidJobError(
      `saveAndEnd needs a lease { jobId, scheduledAt, token, leaseKey }${
        stateJobId === undefined
          ? ""
          : ` of the state's job ${JSON.stringify(stateJobId)}`
      }, got ${describeValue(lease)}${
        scheduledAt instanceof Date
          ? ` (scheduledAt ${String(scheduledAt)})`
          : ""
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  return scheduledAt;
}

/**
 * Checks an occurrence's slot for its in-flight record: a valid slot with a
 * whole `triggerCount` and a boolean `catchUp`, so that no record is
 * written that would read back as corrupt.
 *
 * @throws {ExecutionGuardError} kind `data` naming the slot.
 */
export function requireInFlightSlot(slot: InFlightSlot): Date {
  const scheduledAt = requireSlot(slot);
  if (
    !Number.isSafeInteger(slot.triggerCount) ||
    typeof slot.catchUp !== "boolean"
  ) {
    throw new ExecutionGuardError(
      `an in-flight record needs a slot with a whole triggerCount and a boolean catchUp, got ${
        describeValue(slot)
      }`,
      { kind: ExecutionGuardErrorKind.Data },
    );
  }
  return scheduledAt;
}
