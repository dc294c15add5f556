/**
 * What the jobs of one `JobGroup` may share instead of holding a copy each:
 * a parsed schedule per cron expression or interval, a resolved config per
 * set of options, and the definition fingerprint of each pair. A parsed
 * cron expression alone is about 2 KB (docs/jobs.md, "How a group sleeps").
 *
 * Runtime-neutral.
 *
 * @module
 */

import type { Schedule } from "../schedule/schedule.ts";
import {
  resolveConfig,
  type ResolvedConfig,
  type SchedulerConfig,
} from "./job/config.ts";
import { definitionFingerprint } from "./job/_fingerprint.ts";
import { toScheduleAndId } from "./_define_job.ts";

/** One group's shared, immutable parts of its job definitions. */
export class SharedDefinitions {
  readonly #schedules = new Map<string, { schedule: Schedule; id: string }>();
  readonly #configs = new Map<string, ResolvedConfig>();
  readonly #fingerprints = new WeakMap<
    Schedule,
    Map<ResolvedConfig, Map<string, string>>
  >();

  /** The schedule of `when`: shared for a cron text or `{ everyMs }`. */
  schedule(when: unknown): { schedule: Schedule; id: string } {
    const key = typeof when === "string"
      ? when
      : typeof when === "object" && when !== null &&
          Object.keys(when).length === 1 &&
          typeof (when as { everyMs?: unknown }).everyMs === "number"
      ? `\u0000every ${(when as { everyMs: number }).everyMs}`
      : undefined;
    if (key === undefined) return toScheduleAndId(when);
    let found = this.#schedules.get(key);
    if (found === undefined) {
      found = toScheduleAndId(when);
      this.#schedules.set(key, found);
    }
    return found;
  }

  /**
   * The resolved config (in `timezone` unless it names one): shared unless
   * it has daylight-saving overrides.
   */
  config(given: SchedulerConfig, timezone: string | undefined): ResolvedConfig {
    const config = given.timezone === undefined && timezone !== undefined
      ? { ...given, timezone }
      : given;
    if (config.dst !== undefined) return resolveConfig(config);
    if (
      config.historyLimit === undefined &&
      config.terminalStatePolicy === undefined &&
      config.missedRunToleranceMs === undefined
    ) {
      // The common case (only a zone, if anything) without building a key.
      const found = this.#configs.get(config.timezone ?? "");
      if (found !== undefined) return found;
    }
    const key = "\u0000" + JSON.stringify([
      config.timezone,
      config.historyLimit,
      config.terminalStatePolicy,
      config.missedRunToleranceMs,
    ]);
    let found = this.#configs.get(key);
    if (found === undefined) {
      found = resolveConfig(config);
      this.#configs.set(key, found);
      if (
        config.historyLimit === undefined &&
        config.terminalStatePolicy === undefined &&
        config.missedRunToleranceMs === undefined
      ) this.#configs.set(config.timezone ?? "", found);
    }
    return found;
  }

  /** The fingerprint of a job's definition, computed once per shared parts. */
  fingerprint(
    parts: { schedule: Schedule; maxRuns: number | undefined },
    config: ResolvedConfig,
  ): string {
    let byConfig = this.#fingerprints.get(parts.schedule);
    if (byConfig === undefined) {
      byConfig = new Map();
      this.#fingerprints.set(parts.schedule, byConfig);
    }
    const key = `${parts.maxRuns}`;
    let byMax = byConfig.get(config);
    if (byMax === undefined) {
      byMax = new Map();
      byConfig.set(config, byMax);
    }
    let found = byMax.get(key);
    if (found === undefined) {
      found = definitionFingerprint({ ...parts, ...config });
      byMax.set(key, found);
    }
    return found;
  }
}
