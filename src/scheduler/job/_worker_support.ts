/**
 * Whether this runtime can start worker tasks, asked when a worker task is
 * defined. Apart from `_worker_spawn.ts` and `_worker_task.ts` so that
 * those load only when a worker task first runs (ARCHITECTURE.md, "What loads
 * when").
 *
 * @module
 */

/**
 * Why worker tasks cannot run in this runtime, or undefined when they can
 * (a `Worker` global, or Node's `worker_threads`).
 */
export function workerUnsupportedReason(): string | undefined {
  if (typeof Worker === "function") return undefined;
  const global = globalThis as {
    process?: { versions?: { node?: unknown } };
    navigator?: { userAgent?: unknown };
  };
  if (typeof global.process?.versions?.node === "string") return undefined;
  const agent = global.navigator?.userAgent;
  return `this runtime (${
    typeof agent === "string" ? agent : "unknown"
  }) has neither a Worker global nor node:worker_threads`;
}
