/**
 * The fingerprint of a job definition, stored with its state so that a
 * changed definition is noticed at the next `run()` (reconciliation).
 *
 * Runtime-neutral.
 *
 * @module
 */

import type { DstPolicy } from "../../schedule/dst_policy.ts";
import type { Schedule } from "../../schedule/schedule.ts";

/** What a fingerprint covers: the parts that decide the occurrences. */
export interface DefinitionParts {
  readonly schedule: Schedule;
  readonly maxRuns: number | undefined;
  readonly timezone: string;
  readonly dst?: DstPolicy;
}

/** FNV-1a 64-bit of a string's UTF-16 code units, as 16 hex digits. */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}

/**
 * A short, readable text that changes when the schedule (kind and
 * parameters), `maxRuns`, or — for cron, the only kind they affect — the
 * time zone or DST policy change:
 *
 * - `v1 interval 60000 max=-`
 * - `v1 at-times n=3 h=<FNV-1a-64 of the sorted instants> max=5`
 * - `v1 cron "0 9 * * *" tz=Europe/Paris dst=shift/first max=-`
 *
 * The at-times list is sorted by `Schedule.atTimes`, so reordering it keeps
 * the fingerprint.
 */
export function definitionFingerprint(parts: DefinitionParts): string {
  const max = `max=${parts.maxRuns ?? "-"}`;
  const { schedule } = parts;
  switch (schedule.kind) {
    case "interval":
      return `v1 interval ${schedule.everyMs} ${max}`;
    case "at-times": {
      const instants = schedule.times.map((time) => time.getTime()).join(",");
      return `v1 at-times n=${schedule.times.length} h=${
        fnv1a64(instants)
      } ${max}`;
    }
    case "cron": {
      const dst = `${parts.dst?.gap ?? "default"}/${
        parts.dst?.overlap ?? "default"
      }`;
      return `v1 cron ${
        JSON.stringify(schedule.cron.expression)
      } tz=${parts.timezone} dst=${dst} ${max}`;
    }
  }
}
