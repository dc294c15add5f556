/**
 * Reads every scheduler key of a Valkey server, without writing (SCAN, GET,
 * PTTL, HGETALL only): the job states `<statePrefix><jobId>` (and the legacy
 * `scheduler:job-state:<jobId>` beside the default prefix), and under the
 * lease prefix the leases `<leasePrefix><jobId>:<RFC 3339>` (value: the
 * holder's token, or `done:<token>` once released; deadline from PTTL), the
 * fencing counters `<leasePrefix><jobId>:fencing-token` and the in-flight
 * hashes `<leasePrefix><jobId>:in-flight` (the layout of
 * `src/valkey/execution_guard.ts` and `_in_flight_ledger.ts`). Any other key
 * under those prefixes (one set aside, say) is listed as damaged.
 *
 * @module
 */

import { decodeJobState } from "../store/_json_codec.ts";
import { describeThrown } from "../errors.ts";
import { parseRfc3339 } from "../schedule/_rfc3339.ts";
import {
  DEFAULT_STATE_PREFIX,
  LEGACY_STATE_PREFIX,
} from "../valkey/state_store.ts";
import { DEFAULT_LEASE_PREFIX } from "../valkey/execution_guard.ts";
import type { ValkeyClient } from "../valkey/_client.ts";
import { type FoundEntries, noEntries } from "./_build_report.ts";

/** Where the scheduler's keys live on the server. */
export interface ValkeyPrefixes {
  /** The state store's `keyPrefix`; default `scheduler:valkey:job-state:`. */
  readonly statePrefix?: string;
  /** The guard's `keyPrefix`; default `scheduler:valkey:execution-lease:`. */
  readonly leasePrefix?: string;
}

const LEASE_SUFFIX = /^(.+):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$/;
const FENCE_SUFFIX = ":fencing-token";
const IN_FLIGHT_SUFFIX = ":in-flight";

/** `prefix` as a SCAN pattern that matches it literally. */
function literalPattern(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + "*";
}

async function scanKeys(
  client: ValkeyClient,
  prefix: string,
): Promise<string[]> {
  const keys = new Set<string>();
  let cursor = "0";
  do {
    const [next, batch] = await client.scan(
      cursor,
      "MATCH",
      literalPattern(prefix),
      "COUNT",
      500,
    );
    cursor = next;
    for (const key of batch) keys.add(key);
  } while (cursor !== "0");
  return [...keys].sort();
}

function inFlightRecord(text: string) {
  const r = JSON.parse(text) as Record<string, unknown>;
  if (
    typeof r.scheduled_at !== "string" ||
    !Number.isSafeInteger(r.trigger_count) ||
    typeof r.catch_up !== "boolean" || typeof r.fencing_token !== "string" ||
    typeof r.holder !== "string"
  ) throw new Error("missing or mistyped fields");
  const at = parseRfc3339(r.scheduled_at);
  if (at === undefined) throw new Error("scheduled_at is no RFC 3339 instant");
  return {
    scheduledAt: new Date(at),
    triggerCount: r.trigger_count as number,
    catchUp: r.catch_up,
    fencingToken: r.fencing_token,
    holder: r.holder,
  };
}

/** Every scheduler entry on the server `client` talks to. */
export async function readValkeyEntries(
  client: ValkeyClient,
  prefixes: ValkeyPrefixes = {},
): Promise<FoundEntries> {
  const found = noEntries();
  const statePrefix = prefixes.statePrefix ?? DEFAULT_STATE_PREFIX;
  const leasePrefix = prefixes.leasePrefix ?? DEFAULT_LEASE_PREFIX;
  const damaged = (key: string, problem: string) =>
    found.damaged.push({ key, problem });
  const now = Date.now();

  const statePrefixes = statePrefix === DEFAULT_STATE_PREFIX
    ? [statePrefix, LEGACY_STATE_PREFIX]
    : [statePrefix];
  const seen = new Set<string>();
  for (const prefix of statePrefixes) {
    for (const key of await scanKeys(client, prefix)) {
      const jobId = key.slice(prefix.length);
      // The store reads its own prefix first: a legacy key beside it is stale.
      if (seen.has(jobId)) continue;
      try {
        const text = await client.get(key);
        if (text === null) continue; // deleted since the scan
        found.states.push({ jobId, state: decodeJobState(text, jobId) });
        seen.add(jobId);
      } catch (thrown) {
        damaged(key, describeThrown(thrown));
      }
    }
  }

  for (const key of await scanKeys(client, leasePrefix)) {
    const rest = key.slice(leasePrefix.length);
    try {
      if (rest.endsWith(FENCE_SUFFIX)) {
        const value = await client.get(key);
        if (value === null) continue;
        if (!/^[0-9]+$/.test(value)) throw new Error(`not a counter: ${value}`);
        found.fences.push({
          jobId: rest.slice(0, -FENCE_SUFFIX.length),
          value,
        });
      } else if (rest.endsWith(IN_FLIGHT_SUFFIX)) {
        const jobId = rest.slice(0, -IN_FLIGHT_SUFFIX.length);
        const fields = await client.hgetall(key);
        for (const [field, text] of Object.entries(fields)) {
          try {
            found.inFlight.push({
              jobId,
              record: { key: `${key} ${field}`, ...inFlightRecord(text) },
            });
          } catch (thrown) {
            damaged(`${key} ${field}`, describeThrown(thrown));
          }
        }
      } else {
        const match = LEASE_SUFFIX.exec(rest);
        const at = match === null ? undefined : parseRfc3339(match[2]);
        if (match === null || at === undefined) {
          damaged(key, "not a lease, fencing counter or in-flight key");
          continue;
        }
        const [value, ttl] = [await client.get(key), await client.pttl(key)];
        if (value === null) continue; // expired since the scan
        const done = value.startsWith("done:");
        found.leases.push({
          jobId: match[1],
          lease: {
            key,
            scheduledAt: new Date(at),
            status: done ? "done" : "held",
            holder: done ? value.slice("done:".length) : value,
            deadline: ttl >= 0 ? new Date(now + ttl) : null,
            fencingToken: null,
          },
        });
      }
    } catch (thrown) {
      damaged(key, describeThrown(thrown));
    }
  }
  return found;
}
