/**
 * The status report from what a backend's reader found: entries grouped by
 * job, and each in-flight record judged running or waiting for replay.
 *
 * @module
 */

import type { JobState } from "../store/job_state.ts";
import type {
  DamagedEntry,
  StatusReport,
  StoredInFlight,
  StoredJob,
  StoredLease,
} from "./stored_status.ts";

/** What a backend's reader found, decoded as far as it could. */
export interface FoundEntries {
  readonly states: { readonly jobId: string; readonly state: JobState }[];
  readonly leases: { readonly jobId: string; readonly lease: StoredLease }[];
  readonly fences: { readonly jobId: string; readonly value: string }[];
  readonly inFlight: {
    readonly jobId: string;
    readonly record: Omit<StoredInFlight, "phase">;
  }[];
  readonly damaged: DamagedEntry[];
}

function outcome(state: JobState | null): StoredJob["lastOutcome"] {
  if (state === null || state.lastRunAt === null) return null;
  return state.lastSuccessAt?.getTime() === state.lastRunAt.getTime()
    ? "success"
    : "failed";
}

/** Groups what a reader found by job, in job id order. */
export function buildStatusReport(
  backend: StatusReport["backend"],
  found: FoundEntries,
  readAt: Date,
): StatusReport {
  const jobs = new Map<string, {
    state: JobState | null;
    leases: StoredLease[];
    fencingCounter: string | null;
    inFlight: StoredInFlight[];
  }>();
  const job = (jobId: string) => {
    let entry = jobs.get(jobId);
    if (entry === undefined) {
      entry = { state: null, leases: [], fencingCounter: null, inFlight: [] };
      jobs.set(jobId, entry);
    }
    return entry;
  };
  for (const { jobId, state } of found.states) job(jobId).state = state;
  for (const { jobId, lease } of found.leases) job(jobId).leases.push(lease);
  for (const { jobId, value } of found.fences) {
    job(jobId).fencingCounter = value;
  }
  const now = readAt.getTime();
  for (const { jobId, record } of found.inFlight) {
    const entry = job(jobId);
    const running = entry.leases.some((lease) =>
      lease.scheduledAt.getTime() === record.scheduledAt.getTime() &&
      lease.status === "held" && lease.holder === record.holder &&
      (lease.deadline === null || lease.deadline.getTime() > now)
    );
    entry.inFlight.push({
      ...record,
      phase: running ? "running" : "waiting-for-replay",
    });
  }
  const byTime = (a: { scheduledAt: Date }, b: { scheduledAt: Date }) =>
    a.scheduledAt.getTime() - b.scheduledAt.getTime();
  return {
    backend,
    readAt,
    jobs: [...jobs.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([jobId, entry]) => ({
        jobId,
        state: entry.state,
        lastOutcome: outcome(entry.state),
        leases: entry.leases.sort(byTime),
        fencingCounter: entry.fencingCounter,
        inFlight: entry.inFlight.sort(byTime),
      })),
    damaged: [...found.damaged].sort((a, b) =>
      a.key < b.key ? -1 : a.key > b.key ? 1 : 0
    ),
  };
}

/** An empty set of findings for a reader to fill. */
export function noEntries(): FoundEntries {
  return { states: [], leases: [], fences: [], inFlight: [], damaged: [] };
}
