/**
 * The status view's API: read what a Deno KV database or a Valkey server
 * holds for the scheduler, without changing it. `docs/observability.md`
 * describes the report and the command built on it.
 *
 * @module
 */

import { buildStatusReport } from "./_build_report.ts";
import { type KvPrefixes, readKvEntries } from "./_kv_reader.ts";
import type { ValkeyPrefixes } from "./_valkey_reader.ts";
import type { StatusReport } from "./stored_status.ts";
import type { ValkeyConnection } from "../valkey/connection.ts";

export type { KvPrefixes, ValkeyPrefixes };

/**
 * Every job stored in `kv` (states, leases, fencing counters, in-flight
 * records) and every entry that does not decode. Only lists and reads.
 *
 * @example
 * ```ts
 * import { readDenoKvStatus } from "@cloudiful/scheduler/status";
 * const kv = await Deno.openKv(":memory:");
 * const report = await readDenoKvStatus(kv);
 * console.log(report.jobs.length); // 0
 * kv.close();
 * ```
 */
export async function readDenoKvStatus(
  kv: Deno.Kv,
  prefixes: KvPrefixes = {},
): Promise<StatusReport> {
  const readAt = new Date();
  return buildStatusReport(
    "deno-kv",
    await readKvEntries(kv, prefixes),
    readAt,
  );
}

/**
 * Every job stored in the Valkey deployment `connection` names, given as the
 * store and guard take it ({@linkcode ValkeyConnection}): a URL (`redis://`,
 * `rediss://`, `valkey://`, `valkeys://`), a Sentinel configuration (read on
 * the current primary), a Cluster configuration (every primary scanned), or
 * a client the user built (left open). Uses SCAN, GET, PTTL and HGETALL
 * only; a connection it opened is closed before it returns.
 *
 * @throws {InvalidJobError} kind `other` for a connection the store would
 * refuse too, naming what is wrong.
 *
 * @example
 * ```ts ignore
 * import { readValkeyStatus } from "@cloudiful/scheduler/status";
 * const report = await readValkeyStatus("redis://127.0.0.1:6379");
 * for (const job of report.jobs) console.log(job.jobId, job.state?.nextRunAt);
 * const cluster = await readValkeyStatus({
 *   cluster: [{ host: "127.0.0.1", port: 7000 }],
 * });
 * console.log(cluster.jobs.length);
 * ```
 */
export async function readValkeyStatus(
  connection: ValkeyConnection,
  prefixes: ValkeyPrefixes = {},
): Promise<StatusReport> {
  // Loaded here so that Deno KV users never load npm:iovalkey.
  const { closeClient, connectClient, watchClient } = await import(
    "../valkey/_client.ts"
  );
  const { openClient } = await import("../valkey/_open_client.ts");
  const { readValkeyEntries } = await import("./_valkey_reader.ts");
  const { client, owned, topology } = openClient(
    connection,
    "readValkeyStatus",
  );
  // The store's and guard's watch: a refused AUTH or SELECT fails the read
  // instead of reading as the default user or on database 0.
  watchClient(client, owned);
  try {
    await connectClient(client);
    const readAt = new Date();
    return buildStatusReport(
      "valkey",
      await readValkeyEntries({ client, topology }, prefixes),
      readAt,
    );
  } finally {
    if (owned) await closeClient(client);
  }
}
