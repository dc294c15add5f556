/**
 * The status view of a deployment: every stored job with its state, lease
 * holder and deadline, in-flight records waiting for replay, and whatever is
 * damaged or set aside; read-only. As a command:
 *
 * ```sh
 * deno run -A jsr:@cloudiful/scheduler/status --kv ./jobs.sqlite3
 * deno run -A jsr:@cloudiful/scheduler/status --valkey redis://127.0.0.1:6379 --json
 * ```
 *
 * @example
 * ```ts
 * import { formatStatusTable, readDenoKvStatus } from "@cloudiful/scheduler/status";
 * const kv = await Deno.openKv(":memory:");
 * console.log(formatStatusTable(await readDenoKvStatus(kv)));
 * kv.close();
 * ```
 *
 * @module
 */

import { main } from "./_cli.ts";

export {
  type KvPrefixes,
  readDenoKvStatus,
  readValkeyStatus,
  type ValkeyPrefixes,
} from "./read_status.ts";
export { formatStatusTable } from "./status_table.ts";
export type {
  DamagedEntry,
  StatusReport,
  StoredInFlight,
  StoredJob,
  StoredLease,
} from "./stored_status.ts";
export type { JobState } from "../store/job_state.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
