/**
 * What a handle can see of the active `run()`: its next runs as stored, and
 * the report of the current (or next) `run()`. Shared by every handle of one
 * scheduler through its control state.
 *
 * @module
 */

import { Schedule } from "../../schedule/schedule.ts";
import type { DstPolicy } from "../../schedule/dst_policy.ts";
import type { StateStore } from "../../store/state_store.ts";
import type { SchedulerReport } from "../events/report.ts";
import { checkNextRunsCount } from "../../schedule/_next_runs.ts";

/** The active `run()`, as a handle sees it. */
export interface RunView {
  readonly jobId: string;
  readonly store: StateStore;
  readonly schedule: Schedule;
  readonly maxRuns: number | undefined;
  readonly timezone: string;
  readonly dst: DstPolicy | undefined;
  /** Settles once the state is loaded (or the run stopped before). */
  readonly loaded: Promise<void>;
  /** Settles `loaded`. */
  markLoaded(): void;
}

/**
 * Up to `count` next runs of the active run, the first as stored (the one
 * `nextRun()` gives), the rest from the schedule after it, within `maxRuns`.
 */
export async function nextRunsOf(
  run: RunView | undefined,
  count: number,
): Promise<Date[]> {
  checkNextRunsCount(count);
  if (run === undefined || count === 0) return [];
  await run.loaded;
  const state = await run.store.load(run.jobId);
  const first = state?.nextRunAt ?? null;
  if (first === null) return [];
  const left = run.maxRuns === undefined
    ? count
    : Math.min(count, run.maxRuns - state!.triggerCount);
  if (left <= 0) return [];
  const rest = Schedule.nextRuns(run.schedule, left - 1, {
    from: first,
    timezone: run.timezone,
    dst: run.dst,
  });
  return [first, ...rest];
}

/** The report of the current or next `run()`, settled when it ends. */
export class RunOutcome {
  readonly promise: Promise<SchedulerReport>;
  readonly resolve: (report: SchedulerReport) => void;
  readonly reject: (error: unknown) => void;

  constructor() {
    let resolve!: (report: SchedulerReport) => void;
    let reject!: (error: unknown) => void;
    this.promise = new Promise((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    // Whoever awaits the handle's `done` sees the rejection; nobody awaiting
    // it is no reason to end the process (run() itself still rejects).
    this.promise.catch(() => {});
    this.resolve = resolve;
    this.reject = reject;
  }
}
