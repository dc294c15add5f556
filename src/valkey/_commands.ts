/**
 * The one typed table of the library's server-side scripts: each script
 * registered once per client with its key count, and called through a
 * typed method whose parameters name the KEYS and ARGV of its header.
 *
 * @module
 */

import type { ValkeyClient } from "./_open_client.ts";
import { COMPARE_AND_SET } from "./_lua_state.ts";
import { LEASED_ACQUIRE, LEASED_END } from "./_lua_leased.ts";
import { ACQUIRE, RELEASE, RENEW } from "./_lua_lease.ts";
import {
  IN_FLIGHT_ABANDON,
  IN_FLIGHT_ACQUIRE,
  IN_FLIGHT_COMPLETE,
  IN_FLIGHT_LEASES,
  IN_FLIGHT_RECLAIM,
} from "./_lua_in_flight.ts";
import {
  SET_ASIDE_FIELD,
  SET_ASIDE_KEY,
  SET_ASIDE_ORPHAN,
} from "./_lua_quarantine.ts";

type Arg = string | number;

/** The scripts, as methods (see each script's header for KEYS and ARGV). */
export interface SchedulerCommands {
  compareAndSet(
    stateKey: string,
    sawPresent: "0" | "1",
    seen: string,
    text: string,
  ): Promise<unknown>;
  acquire(
    leaseKey: string,
    fenceKey: string,
    holder: string,
    ttlMs: number,
    floor: string,
  ): Promise<unknown>;
  renew(leaseKey: string, holder: string, ttlMs: number): Promise<unknown>;
  release(
    leaseKey: string,
    holder: string,
    retentionMs: number,
  ): Promise<unknown>;
  inFlightAcquire(
    keys: { lease: string; fence: string; inFlight: string },
    args: {
      holder: string;
      ttlMs: number;
      field: string;
      head: string;
      floor: string;
    },
  ): Promise<unknown>;
  inFlightComplete(
    keys: { lease: string; inFlight: string },
    args: { holder: string; retentionMs: number; field: string },
  ): Promise<unknown>;
  inFlightAbandon(leaseKey: string, holder: string): Promise<unknown>;
  inFlightLeases(
    leaseKeys: readonly string[],
    holders: readonly string[],
  ): Promise<unknown>;
  inFlightReclaim(
    keys: { lease: string; fence: string; inFlight: string },
    args: {
      holder: string;
      ttlMs: number;
      field: string;
      expected: string;
      head: string;
      floor: string;
    },
  ): Promise<unknown>;
  leasedAcquire(
    keys: { state: string; lease: string; fence: string; inFlight: string },
    args: StateWrite & {
      holder: string;
      ttlMs: number;
      floor: string;
      record: boolean;
      field: string;
      head: string;
      /** The fencing token of the caller's last grant ("" when none). */
      lastToken: string;
    },
  ): Promise<unknown>;
  leasedEnd(
    keys: {
      state: string;
      lease: string;
      inFlight: string;
      asideHash: string;
      asideKey: string;
    },
    args: StateWrite & {
      holder: string;
      end: "release" | "complete" | "abandon";
      retentionMs: number;
      ttlMs: number;
      field: string;
      recorded: boolean;
      asideField: string;
    },
  ): Promise<unknown>;
  setAsideKey(
    keys: { key: string; target: string },
    args: { use: "counter" | "lease" | "hash"; holder: string },
  ): Promise<unknown>;
  setAsideField(
    keys: { inFlight: string; target: string },
    args: { field: string; value: string; aside: string },
  ): Promise<unknown>;
  setAsideOrphan(
    keys: { lease: string; inFlight: string; target: string },
    args: { field: string; holder: string; aside: string },
  ): Promise<unknown>;
}

/** A compare-and-set of a state (see `put_state` in `_lua_lib.ts`). */
export interface StateWrite {
  /** Whether the caller saw the state present (with the text `seen`). */
  readonly sawPresent: boolean;
  readonly seen: string;
  /** The new text. */
  readonly text: string;
}

/** Script name on the client → key count (undefined: given per call). */
const SCRIPTS: Record<string, { lua: string; numberOfKeys?: number }> = {
  schedulerCompareAndSet: { lua: COMPARE_AND_SET, numberOfKeys: 1 },
  schedulerAcquire: { lua: ACQUIRE, numberOfKeys: 2 },
  schedulerRenew: { lua: RENEW, numberOfKeys: 1 },
  schedulerRelease: { lua: RELEASE, numberOfKeys: 1 },
  schedulerInFlightAcquire: { lua: IN_FLIGHT_ACQUIRE, numberOfKeys: 3 },
  schedulerInFlightComplete: { lua: IN_FLIGHT_COMPLETE, numberOfKeys: 2 },
  schedulerInFlightAbandon: { lua: IN_FLIGHT_ABANDON, numberOfKeys: 1 },
  schedulerInFlightLeases: { lua: IN_FLIGHT_LEASES },
  schedulerInFlightReclaim: { lua: IN_FLIGHT_RECLAIM, numberOfKeys: 3 },
  schedulerLeasedAcquire: { lua: LEASED_ACQUIRE, numberOfKeys: 4 },
  schedulerLeasedEnd: { lua: LEASED_END, numberOfKeys: 5 },
  schedulerSetAsideKey: { lua: SET_ASIDE_KEY, numberOfKeys: 2 },
  schedulerSetAsideField: { lua: SET_ASIDE_FIELD, numberOfKeys: 2 },
  schedulerSetAsideOrphan: { lua: SET_ASIDE_ORPHAN, numberOfKeys: 3 },
};

const tables = new WeakMap<ValkeyClient, SchedulerCommands>();

/** The scripts on `client`, registered on first use. */
export function commands(client: ValkeyClient): SchedulerCommands {
  let table = tables.get(client);
  if (table !== undefined) return table;
  for (const [name, script] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, script);
  }
  // The one place where the registered methods meet their types.
  const raw = client as unknown as Record<
    string,
    (...args: Arg[]) => Promise<unknown>
  >;
  table = {
    compareAndSet: (...args) => raw.schedulerCompareAndSet(...args),
    acquire: (...args) => raw.schedulerAcquire(...args),
    renew: (...args) => raw.schedulerRenew(...args),
    release: (...args) => raw.schedulerRelease(...args),
    inFlightAcquire: (keys, a) =>
      raw.schedulerInFlightAcquire(
        keys.lease,
        keys.fence,
        keys.inFlight,
        a.holder,
        a.ttlMs,
        a.field,
        a.head,
        a.floor,
      ),
    inFlightComplete: (keys, a) =>
      raw.schedulerInFlightComplete(
        keys.lease,
        keys.inFlight,
        a.holder,
        a.retentionMs,
        a.field,
      ),
    inFlightAbandon: (...args) => raw.schedulerInFlightAbandon(...args),
    inFlightLeases: (leaseKeys, holders) =>
      raw.schedulerInFlightLeases(leaseKeys.length, ...leaseKeys, ...holders),
    inFlightReclaim: (keys, a) =>
      raw.schedulerInFlightReclaim(
        keys.lease,
        keys.fence,
        keys.inFlight,
        a.holder,
        a.ttlMs,
        a.field,
        a.expected,
        a.head,
        a.floor,
      ),
    leasedAcquire: (keys, a) =>
      raw.schedulerLeasedAcquire(
        keys.state,
        keys.lease,
        keys.fence,
        keys.inFlight,
        a.sawPresent ? "1" : "0",
        a.seen,
        a.text,
        a.holder,
        a.ttlMs,
        a.floor,
        a.record ? "1" : "0",
        a.field,
        a.head,
        a.lastToken,
      ),
    leasedEnd: (keys, a) =>
      raw.schedulerLeasedEnd(
        keys.state,
        keys.lease,
        keys.inFlight,
        keys.asideHash,
        keys.asideKey,
        a.sawPresent ? "1" : "0",
        a.seen,
        a.text,
        a.holder,
        a.end,
        a.retentionMs,
        a.ttlMs,
        a.field,
        a.recorded ? "1" : "0",
        a.asideField,
      ),
    setAsideKey: (keys, a) =>
      raw.schedulerSetAsideKey(keys.key, keys.target, a.use, a.holder),
    setAsideField: (keys, a) =>
      raw.schedulerSetAsideField(
        keys.inFlight,
        keys.target,
        a.field,
        a.value,
        a.aside,
      ),
    setAsideOrphan: (keys, a) =>
      raw.schedulerSetAsideOrphan(
        keys.lease,
        keys.inFlight,
        keys.target,
        a.field,
        a.holder,
        a.aside,
      ),
  };
  tables.set(client, table);
  return table;
}
