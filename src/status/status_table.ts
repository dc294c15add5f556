/**
 * The status report as text tables, the way the status command prints it.
 *
 * @module
 */

import type { StatusReport, StoredJob } from "./stored_status.ts";

function instant(date: Date | null | undefined): string {
  return date === null || date === undefined ? "-" : date.toISOString();
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length))
  );
  const line = (cells: string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column])).join("  ")
      .trimEnd();
  if (rows.length === 0) return "(none)";
  return [line(header), ...rows.map(line)].join("\n");
}

function leaseCells(job: StoredJob): string[] {
  // The newest lease says who runs (or ran) the job last.
  const lease = job.leases.at(-1);
  if (lease === undefined) return ["-", "-", "-"];
  return [
    `${lease.status} ${lease.scheduledAt.toISOString()}`,
    lease.holder,
    instant(lease.deadline),
  ];
}

/**
 * Three tables: the jobs (state, newest lease, fencing counter, in-flight
 * count), the in-flight records, and what is damaged or set aside.
 *
 * @example
 * ```ts
 * import { formatStatusTable } from "@cloudiful/scheduler/status";
 * console.log(formatStatusTable({
 *   backend: "deno-kv", readAt: new Date(0), jobs: [], damaged: [],
 * }));
 * ```
 */
export function formatStatusTable(report: StatusReport): string {
  const jobs = table(
    [
      "JOB",
      "TRIGGERS",
      "LAST RUN",
      "OUTCOME",
      "NEXT RUN",
      "LAST ERROR",
      "LEASE",
      "HOLDER",
      "DEADLINE",
      "FENCE",
      "IN-FLIGHT",
    ],
    report.jobs.map((job) => [
      job.jobId,
      job.state === null ? "-" : String(job.state.triggerCount),
      instant(job.state?.lastRunAt),
      job.lastOutcome ?? "-",
      instant(job.state?.nextRunAt),
      job.state?.lastError ?? "-",
      ...leaseCells(job),
      job.fencingCounter ?? "-",
      String(job.inFlight.length),
    ]),
  );
  const inFlight = table(
    ["JOB", "SCHEDULED AT", "TRIGGER", "FENCING TOKEN", "HOLDER", "PHASE"],
    report.jobs.flatMap((job) =>
      job.inFlight.map((record) => [
        job.jobId,
        record.scheduledAt.toISOString(),
        String(record.triggerCount),
        record.fencingToken,
        record.holder,
        record.phase,
      ])
    ),
  );
  const damaged = table(
    ["KEY", "PROBLEM"],
    report.damaged.map((entry) => [entry.key, entry.problem]),
  );
  return [
    `${report.backend} at ${report.readAt.toISOString()}: ${report.jobs.length} job(s)`,
    jobs,
    "",
    "In flight (a run that started and did not finish):",
    inFlight,
    "",
    "Damaged or set aside:",
    damaged,
  ].join("\n");
}
