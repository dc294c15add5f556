/**
 * The Valkey (and Redis) backend of `@cloudiful/scheduler`: a state store and
 * an execution guard whose keys and values are the Rust crate's, so a Rust
 * and a TypeScript service can share one server. The only part of the
 * library that imports `npm:iovalkey`.
 *
 * @example A resilient store and a guard on one server
 * ```ts ignore
 * import { ValkeyExecutionGuard, ValkeyStateStore } from "@cloudiful/scheduler/valkey";
 * import { Job, Schedule, Scheduler, Task } from "@cloudiful/scheduler";
 *
 * const url = "redis://127.0.0.1:6379";
 * const store = await ValkeyStateStore.resilient(url); // survives outages
 * const guard = await ValkeyExecutionGuard.connect(url, {
 *   ttlMs: 30_000,
 *   renewIntervalMs: 10_000,
 * });
 * const scheduler = new Scheduler({ timezone: "Europe/Berlin" }, store, { guard });
 * const job = Job.withoutDeps("nightly", Schedule.cron("0 3 * * *"), Task.fromSync(() => {}));
 * try {
 *   await scheduler.run(job, { signal: AbortSignal.timeout(5_000) });
 * } finally {
 *   await Promise.all([store.close(), guard.close()]);
 * }
 * ```
 *
 * @module
 */

export { ValkeyStateStore } from "./state_store.ts";
export type {
  ValkeyResilientOptions,
  ValkeyStateStoreOptions,
} from "./state_store_options.ts";
export type {
  ValkeyClientConnection,
  ValkeyClusterConnection,
  ValkeyConnection,
  ValkeyIovalkeyClient,
  ValkeyKeyLayout,
  ValkeyNodeAddress,
  ValkeySentinelConnection,
} from "./connection.ts";
export {
  ValkeyExecutionGuard,
  type ValkeyLeaseConfig,
} from "./execution_guard.ts";
export type {
  ValkeyDurability,
  ValkeyExecutionGuardOptions,
} from "./execution_guard_options.ts";
