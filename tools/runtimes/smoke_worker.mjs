/** Worker task exports for the Node and Bun smoke run (smoke.mjs). */
import process from "node:process";

/** Succeeds after checking what it was given. */
export default function succeed({ run, deps, signal }) {
  if (!(run.scheduledAt instanceof Date) || deps.rows.length !== 3) {
    throw new Error("the worker got a wrong context");
  }
  if (signal.aborted) throw new Error("the signal is already aborted");
}

/** Fails with a message that shows what the worker received. */
export function echo({ run, deps, signal }) {
  throw new Error(JSON.stringify({
    jobId: run.jobId,
    scheduledAtIsDate: run.scheduledAt instanceof Date,
    deps,
    signalAborted: signal.aborted,
  }));
}

/** Crashes the worker with an uncaught error and never settles. */
export function crash() {
  setTimeout(() => {
    throw new Error("uncaught inside the worker");
  }, 0);
  return new Promise(() => {});
}

/** Leaves the worker before settling. */
export function exitEarly() {
  process.exit(3);
  return new Promise(() => {});
}

/** Never settles on its own. */
export function forever() {
  return new Promise(() => {});
}
