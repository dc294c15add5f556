/**
 * A worker task module for `Task.fromWorker`: its default export runs in a
 * module Web Worker, off the scheduler's event loop, with a structured clone
 * of `{ run, deps }`.
 */

interface ReportDeps {
  rows: number;
}

interface WorkerContext {
  run: { jobId: string; scheduledAt: Date; triggerCount: number };
  deps: ReportDeps;
  signal: AbortSignal;
}

/** CPU-heavy work that would block the scheduler if it ran inline. */
export default function buildReport({ run, deps }: WorkerContext): void {
  let checksum = 0;
  for (let row = 0; row < deps.rows; row++) {
    checksum = (checksum * 31 + row) % 1_000_003;
  }
  console.log(
    `report #${run.triggerCount} for ${run.scheduledAt.toISOString()}: checksum ${checksum}`,
  );
}
