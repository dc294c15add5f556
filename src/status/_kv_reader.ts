/**
 * Reads every scheduler key of a Deno KV database, without writing: the
 * job states under `[...statePrefix, jobId]`, and under the lease prefix the
 * leases `[..., "lease", jobId, scheduledAtMs]`, the fencing counters
 * `[..., "fence", jobId]` and the in-flight records
 * `[..., "in-flight", jobId, scheduledAtMs]` (the layout of
 * `src/deno_kv/_kv_guard.ts` and `_in_flight_ledger.ts`). Any other key
 * under those prefixes (one set aside, say) is listed as damaged.
 *
 * @module
 */

import { decodeJobState } from "../store/_json_codec.ts";
import { describeThrown } from "../errors.ts";
import { DEFAULT_STATE_KEY_PREFIX } from "../deno_kv/state_store.ts";
import { DEFAULT_LEASE_KEY_PREFIX } from "../deno_kv/execution_guard.ts";
import { readLeaseRecord } from "../deno_kv/_lease_record.ts";
import {
  readStoredRecord,
  type StoredRecord,
} from "../deno_kv/_in_flight_record.ts";
import { describeKvKey } from "../deno_kv/_kv_errors.ts";
import { type FoundEntries, noEntries } from "./_build_report.ts";

/** Where the scheduler's keys live in the database. */
export interface KvPrefixes {
  /** The state store's `keyPrefix`; default `["scheduler", "job-state"]`. */
  readonly statePrefix?: Deno.KvKey;
  /** The guard's `keyPrefix`; default `["scheduler", "execution-lease"]`. */
  readonly leasePrefix?: Deno.KvKey;
}

function problemOf(thrown: unknown): string {
  return describeThrown(thrown);
}

/** Every scheduler entry of `kv`, decoded where it can be. */
export async function readKvEntries(
  kv: Deno.Kv,
  prefixes: KvPrefixes = {},
): Promise<FoundEntries> {
  const found = noEntries();
  const statePrefix = prefixes.statePrefix ?? DEFAULT_STATE_KEY_PREFIX;
  const leasePrefix = prefixes.leasePrefix ?? DEFAULT_LEASE_KEY_PREFIX;
  const damaged = (key: Deno.KvKey, problem: string) =>
    found.damaged.push({ key: describeKvKey(key), problem });

  for await (
    const { key, value } of kv.list<unknown>({ prefix: statePrefix })
  ) {
    const jobId = key[statePrefix.length];
    if (key.length !== statePrefix.length + 1 || typeof jobId !== "string") {
      damaged(key, "not a job state key");
      continue;
    }
    try {
      found.states.push({ jobId, state: decodeJobState(value, jobId) });
    } catch (thrown) {
      damaged(key, problemOf(thrown));
    }
  }

  for await (
    const { key, value } of kv.list<unknown>({ prefix: leasePrefix })
  ) {
    const [kind, jobId, at] = key.slice(leasePrefix.length);
    const rest = key.length - leasePrefix.length;
    if (typeof jobId !== "string") {
      damaged(key, "not a lease, fencing counter or in-flight key");
    } else if (kind === "fence" && rest === 2) {
      if (typeof value === "bigint") {
        found.fences.push({ jobId, value: value.toString() });
      } else damaged(key, `the fencing counter is not a bigint`);
    } else if (kind === "lease" && rest === 3 && typeof at === "number") {
      try {
        const record = readLeaseRecord(value, jobId, key);
        const scheduledAt = new Date(at);
        found.leases.push({
          jobId,
          lease: {
            key: describeKvKey(key),
            scheduledAt,
            status: record.status,
            holder: record.token,
            deadline: new Date(record.deadline),
            fencingToken: record.fencingToken.toString(),
          },
        });
      } catch (thrown) {
        damaged(key, problemOf(thrown));
      }
    } else if (kind === "in-flight") {
      // The guard's own reading (the key checked too), so that the view
      // lists as damaged what the guard would set aside.
      let record: StoredRecord;
      try {
        record = readStoredRecord(value, { key, prefix: leasePrefix, jobId });
      } catch (thrown) {
        damaged(key, problemOf(thrown));
        continue;
      }
      found.inFlight.push({
        jobId,
        record: {
          key: describeKvKey(key),
          scheduledAt: new Date(record.scheduledAt),
          triggerCount: record.triggerCount,
          catchUp: record.catchUp,
          fencingToken: record.fencingToken.toString(),
          holder: record.holder,
        },
      });
    } else {
      damaged(key, "not a lease, fencing counter or in-flight key");
    }
  }
  return found;
}
