/**
 * Reads every scheduler key of a Valkey deployment, without writing (SCAN,
 * GET, PTTL, HGETALL only): one server, the primary Sentinel names, or on a
 * Cluster every primary's keys (SCAN runs node by node, each key is read
 * through the cluster client, which routes it to its slot's primary). Key names are built and recognised by the library's
 * one key layout (`src/valkey/_key_layout.ts`), in the layout the prefix's
 * marker key names (`"rust"` when there is none): the job states (and the
 * legacy `scheduler:job-state:<jobId>` beside the default prefix), and under
 * the lease prefix the leases (value: the holder's token, or `done:<token>`
 * once released; deadline from PTTL), the fencing counters and the in-flight
 * hashes. Keys the guard set aside (quarantine keys) are listed as set
 * aside, any other key under those prefixes as damaged.
 *
 * @module
 */

import { decodeJobState } from "../store/_json_codec.ts";
import { describeThrown } from "../errors.ts";
import { LATEST_LEASE_END_MS } from "../guard/lease_config.ts";
import { formatRfc3339, parseRfc3339 } from "../schedule/_rfc3339.ts";
import {
  DEFAULT_LEASE_PREFIX,
  DEFAULT_STATE_PREFIX,
  ValkeyKeys,
} from "../valkey/_key_layout.ts";
import { classifyFailure, type ValkeyClient } from "../valkey/_client.ts";
import type { ValkeyTopology } from "../valkey/_open_client.ts";
import { type FoundEntries, noEntries } from "./_build_report.ts";

/** Where the scheduler's keys live on the server. */
export interface ValkeyPrefixes {
  /** The state store's `keyPrefix`; default `scheduler:valkey:job-state:`. */
  readonly statePrefix?: string;
  /** The guard's `keyPrefix`; default `scheduler:valkey:execution-lease:`. */
  readonly leasePrefix?: string;
}

/** The keys under `prefix`, in the layout its marker key names. */
async function keysUnder(
  client: ValkeyClient,
  prefix: string,
): Promise<ValkeyKeys> {
  const marker = await client.get(prefix);
  const layout = marker === "cloudiful-scheduler key-layout cluster"
    ? "cluster"
    : "rust";
  return new ValkeyKeys(prefix, layout, "the status view");
}

/** `prefix` as a SCAN pattern that matches it literally. */
function literalPattern(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + "*";
}

/**
 * Rethrows `thrown` when it says the deployment cannot be read now (a lost
 * connection, a node failing over, refused credentials): a key that could
 * not be read is not a damaged key, and a report missing it would be a
 * silent loss.
 */
function throwIfOutage(client: ValkeyClient, thrown: unknown): void {
  const { kind } = classifyFailure(client, thrown);
  if (kind === "connection" || kind === "auth") throw thrown;
}

/** What the reader reads from: a connected client and its topology. */
export interface ValkeySource {
  readonly client: ValkeyClient;
  readonly topology: ValkeyTopology;
}

/**
 * The clients SCAN runs on: a Cluster's SCAN covers one node only, so each
 * primary (iovalkey's connections to them) is scanned in turn.
 */
function scanners(source: ValkeySource): ValkeyClient[] {
  if (source.topology !== "cluster" || !("nodes" in source.client)) {
    return [source.client];
  }
  const primaries = source.client.nodes("master");
  if (primaries.length === 0) {
    throw new Error("the cluster client knows no primary node to scan");
  }
  return primaries;
}

async function scanKeys(
  nodes: readonly ValkeyClient[],
  prefix: string,
): Promise<string[]> {
  const keys = new Set<string>();
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(
        cursor,
        "MATCH",
        literalPattern(prefix),
        "COUNT",
        500,
      );
      cursor = next;
      for (const key of batch) keys.add(key);
    } while (cursor !== "0");
  }
  return [...keys].sort();
}

/** The record `text` at hash field `field`, read as the guard's ledger does. */
function inFlightRecord(text: string, field: string) {
  const r = JSON.parse(text) as Record<string, unknown>;
  if (
    typeof r.scheduled_at !== "string" ||
    !Number.isSafeInteger(r.trigger_count) ||
    typeof r.catch_up !== "boolean" || typeof r.fencing_token !== "string" ||
    typeof r.holder !== "string"
  ) throw new Error("missing or mistyped fields");
  const at = parseRfc3339(r.scheduled_at);
  if (at === undefined) throw new Error("scheduled_at is no RFC 3339 instant");
  // A reclaim would look for it under another field: the guard sets it aside.
  if (formatRfc3339(at, 9) !== field) {
    throw new Error(`scheduled_at ${r.scheduled_at} does not match its field`);
  }
  return {
    scheduledAt: new Date(at),
    triggerCount: r.trigger_count as number,
    catchUp: r.catch_up,
    fencingToken: r.fencing_token,
    holder: r.holder,
  };
}

/** Every scheduler entry of the deployment `source.client` talks to. */
export async function readValkeyEntries(
  source: ValkeySource,
  prefixes: ValkeyPrefixes = {},
): Promise<FoundEntries> {
  const { client } = source;
  const nodes = scanners(source);
  const found = noEntries();
  const statePrefix = prefixes.statePrefix ?? DEFAULT_STATE_PREFIX;
  const leasePrefix = prefixes.leasePrefix ?? DEFAULT_LEASE_PREFIX;
  const damaged = (key: string, problem: string) =>
    found.damaged.push({ key, problem });
  const now = Date.now();

  const stateKeys = await keysUnder(client, statePrefix);
  const statePrefixes = [statePrefix];
  const legacy = stateKeys.legacyState("");
  if (legacy !== undefined) statePrefixes.push(legacy);
  const seen = new Set<string>();
  for (const prefix of statePrefixes) {
    for (const key of await scanKeys(nodes, prefix)) {
      if (key === stateKeys.marker()) continue;
      // In the Rust layout any text after the prefix is a job id.
      const parsed = stateKeys.layout === "cluster" && prefix === statePrefix
        ? stateKeys.parse(key)
        : { kind: "state", jobId: key.slice(prefix.length) };
      if (parsed?.kind !== "state") {
        damaged(key, "not a job state key");
        continue;
      }
      const { jobId } = parsed;
      // The store reads its own prefix first: a legacy key beside it is stale.
      if (seen.has(jobId)) continue;
      try {
        const text = await client.get(key);
        if (text === null) continue; // deleted since the scan
        found.states.push({ jobId, state: decodeJobState(text, jobId) });
        seen.add(jobId);
      } catch (thrown) {
        throwIfOutage(client, thrown);
        damaged(key, describeThrown(thrown));
      }
    }
  }

  const leaseKeys = await keysUnder(client, leasePrefix);
  for (const key of await scanKeys(nodes, leasePrefix)) {
    const parsed = leaseKeys.parse(key);
    try {
      if (parsed?.kind === "marker") continue;
      if (parsed?.kind === "fence") {
        const value = await client.get(key);
        if (value === null) continue;
        if (!/^[0-9]+$/.test(value)) throw new Error(`not a counter: ${value}`);
        found.fences.push({ jobId: parsed.jobId, value });
      } else if (parsed?.kind === "in-flight") {
        const fields = await client.hgetall(key);
        for (const [field, text] of Object.entries(fields)) {
          try {
            found.inFlight.push({
              jobId: parsed.jobId,
              record: {
                key: `${key} ${field}`,
                ...inFlightRecord(text, field),
              },
            });
          } catch (thrown) {
            damaged(`${key} ${field}`, describeThrown(thrown));
          }
        }
      } else if (parsed?.kind === "quarantine") {
        damaged(
          key,
          `set aside: the damaged ${parsed.what} of job ${
            JSON.stringify(parsed.jobId)
          }, at ${new Date(parsed.at ?? 0).toISOString()}`,
        );
      } else if (parsed?.kind === "quarantine-in-flight") {
        damaged(
          key,
          `set aside: damaged or orphaned in-flight records of job ${
            JSON.stringify(parsed.jobId)
          }`,
        );
      } else {
        const at = parsed?.kind === "lease"
          ? parseRfc3339(parsed.what ?? "")
          : undefined;
        if (parsed === undefined || at === undefined) {
          damaged(key, "not a lease, fencing counter or in-flight key");
          continue;
        }
        const [value, ttl] = [await client.get(key), await client.pttl(key)];
        if (value === null) continue; // expired since the scan
        const done = value.startsWith("done:");
        // What the guard's scripts set aside (`expiry_damage` in
        // valkey/_lua_lib.ts): a holder's token no grant leaves like this.
        if (!done && (ttl === -1 || ttl > LATEST_LEASE_END_MS)) {
          damaged(
            key,
            `a holder's token with ${
              ttl === -1 ? "no expiry" : `an expiry ${ttl} ms away`
            }, which no grant sets: set aside at the next grant`,
          );
          continue;
        }
        found.leases.push({
          jobId: parsed.jobId,
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
      throwIfOutage(client, thrown);
      damaged(key, describeThrown(thrown));
    }
  }
  return found;
}
