/**
 * The `CronSchedule` value: a validated crontab(5) expression that can say
 * when it fires next in any time zone.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import { parseCronPattern } from "./_cron_pattern.ts";
import type { CronPattern } from "./_cron_pattern.ts";
import { nextZonedOccurrence } from "./_cron_zoned.ts";
import {
  type DstPolicy,
  resolveDstRules,
  validateDstPolicy,
} from "./dst_policy.ts";
import { MAX_STORABLE_MS } from "./_civil.ts";
import { timeZoneRules } from "./_time_zone.ts";
import { listOccurrences, startOfListing } from "./_next_runs.ts";

/**
 * A crontab(5) expression: five fields (minute, hour, day-of-month, month,
 * day-of-week), names, `0`/`7` for Sunday, Vixie cron's day rule and the
 * nicknames `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight`
 * `@hourly`. Evaluated in a time zone with cron(8)'s daylight-saving rules
 * unless a {@linkcode DstPolicy} overrides them.
 *
 * @example Next occurrence in a time zone
 * ```ts
 * import { CronSchedule } from "@cloudiful/scheduler";
 * const cron = CronSchedule.parse("0 9 * * *");
 * const next = cron.nextAfter(new Date("2026-04-03T00:30:00Z"), "Asia/Shanghai");
 * console.log(next?.toISOString()); // 2026-04-03T01:00:00.000Z
 * ```
 */
export class CronSchedule {
  /** The expression exactly as it was given. */
  readonly expression: string;
  readonly #pattern: CronPattern;

  private constructor(expression: string, pattern: CronPattern) {
    this.expression = expression;
    this.#pattern = pattern;
  }

  /**
   * Parses and validates an expression.
   *
   * @param expression The crontab(5) text, e.g. `"*\/15 9-17 * * MON-FRI"`.
   * @returns The schedule; its `expression` keeps the original text.
   * @throws {InvalidJobError} kind `cron-expression`, quoting the expression,
   * for other field counts, seconds or year fields, `@reboot`, out-of-range
   * values, unknown names, empty input, or an expression that can never match.
   *
   * @example
   * ```ts
   * import { CronSchedule } from "@cloudiful/scheduler";
   * console.log(CronSchedule.parse("@hourly").toString()); // @hourly
   * ```
   */
  static parse(expression: string): CronSchedule {
    return new CronSchedule(expression, parseCronPattern(expression));
  }

  /**
   * Whether the expression is *fixed-time* for daylight-saving purposes:
   * neither its minute nor its hour field starts with `*`.
   *
   * @example
   * ```ts
   * import { CronSchedule } from "@cloudiful/scheduler";
   * console.log(CronSchedule.parse("30 2 * * *").fixedTime); // true
   * console.log(CronSchedule.parse("*\/15 * * * *").fixedTime); // false
   * ```
   */
  get fixedTime(): boolean {
    return this.#pattern.fixedTime;
  }

  /**
   * The first instant strictly after `after` at which the expression fires,
   * evaluated in `timezone`.
   *
   * @param after The instant to search from (exclusive).
   * @param timezone An IANA zone name such as `"Europe/Berlin"`; UTC when
   * omitted, as in the scheduler (never the machine's `TZ`).
   * @param dst Overrides of the daylight-saving rules.
   * @returns The instant, or `undefined` when there is none within 400 years
   * (an expression whose only matches fall in skipped local times), or none
   * up to 9999-12-31T23:59:59.999Z, the last instant a job state (RFC 3339)
   * can hold. The search is bounded; it never loops.
   * @throws {InvalidJobError} kind `timezone` for an unknown zone, kind
   * `other` for an invalid `dst` or an `after` that is not a valid `Date`.
   *
   * @example
   * ```ts
   * import { CronSchedule } from "@cloudiful/scheduler";
   * const next = CronSchedule.parse("* * * * *")
   *   .nextAfter(new Date("2026-04-03T01:02:00Z"), "UTC");
   * console.log(next?.toISOString()); // 2026-04-03T01:03:00.000Z
   * ```
   */
  nextAfter(
    after: Date,
    timezone: string = "UTC",
    dst?: DstPolicy,
  ): Date | undefined {
    if (!(after instanceof Date)) {
      throw new InvalidJobError(
        `cron nextAfter needs a Date, got ${describeValue(after)}`,
        { kind: InvalidJobKind.Other },
      );
    }
    const next = this.nextAfterMs(after.getTime(), timezone, dst);
    return next === undefined ? undefined : new Date(next);
  }

  /**
   * {@linkcode CronSchedule.nextAfter} on epoch milliseconds, for callers that
   * step through many occurrences without allocating dates.
   *
   * @param after Epoch milliseconds to search from (exclusive).
   * @param timezone An IANA zone name; UTC when omitted.
   * @param dst Overrides of the daylight-saving rules.
   * @returns Epoch milliseconds of the next occurrence, or `undefined` (none
   * up to 9999-12-31, as for `nextAfter`).
   *
   * @example
   * ```ts
   * import { CronSchedule } from "@cloudiful/scheduler";
   * const cron = CronSchedule.parse("0 0 * * *");
   * console.log(cron.nextAfterMs(0, "UTC")); // 86400000
   * ```
   */
  nextAfterMs(
    after: number,
    timezone: string = "UTC",
    dst?: DstPolicy,
  ): number | undefined {
    if (typeof after !== "number" || !Number.isFinite(after)) {
      throw new InvalidJobError(
        `cron search start must be a valid instant, got ${
          describeValue(after)
        }`,
        { kind: InvalidJobKind.Other },
      );
    }
    const next = nextZonedOccurrence(
      this.#pattern,
      after,
      timeZoneRules(timezone),
      resolveDstRules(this.#pattern.fixedTime, validateDstPolicy(dst)),
    );
    // Past 9999-12-31 no job state can hold the instant: the schedule ends.
    return next === undefined || next > MAX_STORABLE_MS ? undefined : next;
  }

  /**
   * The next `count` instants at which the expression fires, strictly after
   * `from`, evaluated in `timezone`.
   *
   * @param count How many, from 0 to 10 000.
   * @param from The instant to list from (exclusive); now when omitted.
   * @param timezone An IANA zone name; UTC when omitted.
   * @param dst Overrides of the daylight-saving rules.
   * @returns Up to `count` increasing instants (fewer only when the
   * expression has no more before the end of the `Date` range).
   * @throws {InvalidJobError} kind `timezone` for an unknown zone, kind
   * `other` for a bad `count`, `from` or `dst`.
   *
   * @example The next three runs of a nightly job in Berlin
   * ```ts
   * import { CronSchedule } from "@cloudiful/scheduler";
   * const runs = CronSchedule.parse("0 3 * * *")
   *   .nextRuns(3, new Date("2026-03-28T12:00:00Z"), "Europe/Berlin");
   * console.log(runs.map((run) => run.toISOString()));
   * // 2026-03-29T01:00:00.000Z, 2026-03-30T01:00:00.000Z, 2026-03-31T01:00:00.000Z
   * ```
   */
  nextRuns(
    count: number,
    from?: Date,
    timezone: string = "UTC",
    dst?: DstPolicy,
  ): Date[] {
    const rules = timeZoneRules(timezone);
    const dstRules = resolveDstRules(
      this.#pattern.fixedTime,
      validateDstPolicy(dst),
    );
    return listOccurrences(count, {
      from: startOfListing(from),
      after: (ms) => nextZonedOccurrence(this.#pattern, ms, rules, dstRules),
    });
  }

  /**
   * The original expression text.
   *
   * @example
   * ```ts
   * import { CronSchedule } from "@cloudiful/scheduler";
   * console.log(String(CronSchedule.parse("0 9 * * MON-FRI"))); // 0 9 * * MON-FRI
   * ```
   */
  toString(): string {
    return this.expression;
  }
}
