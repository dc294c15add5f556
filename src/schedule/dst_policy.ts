/**
 * How cron expressions treat daylight-saving transitions.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import { checkOptions } from "../_options.ts";

/**
 * Overrides the daylight-saving rules of cron evaluation for all expressions.
 *
 * - `gap`: a matching local time that does not exist (clocks spring forward)
 *   either fires once at the first instant after the gap (`"shift"`) or does
 *   not fire (`"skip"`).
 * - `overlap`: a matching local time that occurs twice (clocks fall back)
 *   fires at its first occurrence only (`"first"`) or at both (`"both"`).
 *
 * Unset members keep cron(8)'s rule: fixed-time expressions (neither the
 * minute nor the hour field starts with `*`) use `shift` and `first`; wildcard
 * expressions follow elapsed time, i.e. `skip` and `both`.
 *
 * @example Run a fixed-time job twice on the night clocks fall back
 * ```ts
 * import { CronSchedule, type DstPolicy } from "@cloudiful/scheduler";
 * const dst: DstPolicy = { overlap: "both" };
 * const cron = CronSchedule.parse("30 1 * * *");
 * const first = cron.nextAfter(new Date("2026-11-01T04:00:00Z"), "America/New_York", dst);
 * const second = cron.nextAfter(first!, "America/New_York", dst);
 * console.log(first?.toISOString(), second?.toISOString());
 * // 2026-11-01T05:30:00.000Z 2026-11-01T06:30:00.000Z
 * ```
 */
export interface DstPolicy {
  /** What a matching local time inside a spring-forward gap does. */
  readonly gap?: "shift" | "skip";
  /** What a matching local time inside a fall-back overlap does. */
  readonly overlap?: "first" | "both";
}

/** Daylight-saving rules with both members decided. */
export interface ResolvedDstRules {
  readonly gap: "shift" | "skip";
  readonly overlap: "first" | "both";
}

/**
 * Validates a {@linkcode DstPolicy}, returning it as given.
 *
 * @throws {InvalidJobError} kind `other` for unknown members or values.
 */
export function validateDstPolicy(dst: unknown): DstPolicy | undefined {
  if (dst === undefined) return undefined;
  const { gap, overlap } = checkOptions(dst as Record<string, unknown>, {
    what: 'dst (such as { gap: "shift", overlap: "first" })',
    known: ["gap", "overlap"],
  });
  if (gap !== undefined && gap !== "shift" && gap !== "skip") {
    throw new InvalidJobError(
      `dst.gap must be "shift" or "skip", got ${describeValue(gap)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  if (overlap !== undefined && overlap !== "first" && overlap !== "both") {
    throw new InvalidJobError(
      `dst.overlap must be "first" or "both", got ${describeValue(overlap)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  return dst as DstPolicy;
}

/** The rules that apply to an expression: the override, else cron(8)'s. */
export function resolveDstRules(
  fixedTime: boolean,
  dst: DstPolicy | undefined,
): ResolvedDstRules {
  return {
    gap: dst?.gap ?? (fixedTime ? "shift" : "skip"),
    overlap: dst?.overlap ?? (fixedTime ? "first" : "both"),
  };
}
