/**
 * The two ways a Deno KV state store and guard on one database write around
 * a run, for the benchmarks to measure side by side in one run: the single
 * commit before and after a run (the store shares the guard's database:
 * `LeasedStateWrites`), and the separate path it replaced (a guard call
 * and a save each), kept by handing the scheduler the same guard behind a
 * plain object the store does not recognise.
 *
 * @module
 */
import type { DenoKvExecutionGuard, ExecutionGuard } from "../mod.ts";

/** The two paths, by name. */
export type KvPath = "separate" | "single commit";

/** `guard` as the scheduler should get it to take `path`. */
export function onPath(
  guard: DenoKvExecutionGuard,
  path: KvPath,
): ExecutionGuard {
  if (path === "single commit") return guard;
  return {
    acquire: (slot) => guard.acquire(slot),
    renew: (lease) => guard.renew(lease),
    release: (lease) => guard.release(lease),
    renewIntervalMs: (lease) => guard.renewIntervalMs(lease),
    inFlight: guard.inFlight,
  };
}
