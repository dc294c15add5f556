/**
 * Scheduler configuration and its validation.
 *
 * @module
 */

import { TerminalStatePolicy } from "../../constants.ts";
import { describeValue, invalid } from "../../errors.ts";
import {
  type DstPolicy,
  validateDstPolicy,
} from "../../schedule/dst_policy.ts";
import { validateTimeZone } from "../../schedule/_time_zone.ts";
import { checkOptions } from "../../_options.ts";

/**
 * How a scheduler evaluates and records its job.
 *
 * @example
 * ```ts
 * import type { SchedulerConfig } from "@cloudiful/scheduler";
 * const config: SchedulerConfig = {
 *   timezone: "Europe/Berlin",
 *   historyLimit: 10,
 *   missedRunToleranceMs: 5_000,
 *   dst: { overlap: "both" },
 * };
 * ```
 */
export interface SchedulerConfig {
  /**
   * IANA zone in which cron expressions are evaluated and that runs see as
   * `ctx.run.timezone`.
   *
   * @default {"UTC"}
   */
  timezone?: string;
  /**
   * How many run records the report keeps (the newest); 0 keeps none.
   *
   * @default {32}
   */
  historyLimit?: number;
  /**
   * What happens to the stored state once the schedule is exhausted.
   *
   * @default {"retain"}
   */
  terminalStatePolicy?: TerminalStatePolicy;
  /**
   * An occurrence that is more than this many milliseconds overdue when the
   * scheduler gets to it counts as missed.
   *
   * @default {1000}
   */
  missedRunToleranceMs?: number;
  /** Overrides of the cron daylight-saving rules. */
  dst?: DstPolicy;
}

/** A validated configuration with every default filled in. */
export interface ResolvedConfig {
  readonly timezone: string;
  readonly historyLimit: number;
  readonly terminalStatePolicy: TerminalStatePolicy;
  readonly missedRunToleranceMs: number;
  readonly dst: DstPolicy | undefined;
}

const KNOWN_KEYS = [
  "timezone",
  "historyLimit",
  "terminalStatePolicy",
  "missedRunToleranceMs",
  "dst",
];

/**
 * Validates a configuration and fills in defaults.
 *
 * @throws {InvalidJobError} kind `timezone` for an unknown zone, kind `other`
 * for anything else (including unknown keys, which are usually typos).
 */
export function resolveConfig(
  config: SchedulerConfig | undefined,
): ResolvedConfig {
  // `null` is refused, as for every option below: only `undefined` (a
  // missing config) takes the defaults.
  const given = checkOptions(config, {
    what: "scheduler config",
    known: KNOWN_KEYS,
  });
  // `null` is refused, not defaulted: only a missing option takes its default.
  const historyLimit = given.historyLimit === undefined
    ? 32
    : given.historyLimit;
  if (
    typeof historyLimit !== "number" || !Number.isSafeInteger(historyLimit) ||
    historyLimit < 0
  ) {
    throw invalid(
      `historyLimit must be a non-negative integer, got ${
        describeValue(historyLimit)
      }`,
    );
  }
  const tolerance = given.missedRunToleranceMs === undefined
    ? 1000
    : given.missedRunToleranceMs;
  if (
    typeof tolerance !== "number" || !Number.isFinite(tolerance) ||
    tolerance < 0
  ) {
    throw invalid(
      `missedRunToleranceMs must be a finite number >= 0, got ${
        describeValue(tolerance)
      }`,
    );
  }
  const terminalStatePolicy = given.terminalStatePolicy === undefined
    ? TerminalStatePolicy.Retain
    : given.terminalStatePolicy;
  if (!Object.values(TerminalStatePolicy).includes(terminalStatePolicy)) {
    throw invalid(
      `terminalStatePolicy must be "retain" or "delete", got ${
        describeValue(terminalStatePolicy)
      }`,
    );
  }
  return {
    timezone: validateTimeZone(
      given.timezone === undefined ? "UTC" : given.timezone,
    ),
    historyLimit,
    terminalStatePolicy,
    missedRunToleranceMs: tolerance,
    dst: validateDstPolicy(given.dst),
  };
}
