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
 * Every job stored on the Valkey server at `url` (`redis://`, `rediss://`,
 * `valkey://`, `valkeys://`). Uses SCAN, GET, PTTL and HGETALL only; the
 * connection is closed before it returns.
 *
 * @example
 * ```ts ignore
 * import { readValkeyStatus } from "@cloudiful/scheduler/status";
 * const report = await readValkeyStatus("redis://127.0.0.1:6379");
 * for (const job of report.jobs) console.log(job.jobId, job.state?.nextRunAt);
 * ```
 */
export async function readValkeyStatus(
  url: string,
  prefixes: ValkeyPrefixes = {},
): Promise<StatusReport> {
  // Loaded here so that Deno KV users never load npm:iovalkey.
  const { closeClient, connectClient } = await import("../valkey/_client.ts");
  const { openClient } = await import("../valkey/_open_client.ts");
  const { readValkeyEntries } = await import("./_valkey_reader.ts");
  const { client } = openClient(url, "readValkeyStatus");
  try {
    await connectClient(client);
    const readAt = new Date();
    return buildStatusReport(
      "valkey",
      await readValkeyEntries(client, prefixes),
      readAt,
    );
  } finally {
    await closeClient(client);
  }
}
