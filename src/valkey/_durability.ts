/**
 * The guard's opt-in durability: after a grant, `WAIT` for replicas to
 * acknowledge it on the same connection, so the lease survives a failover
 * (see `docs/valkey.md`, "What WAIT buys and costs").
 *
 * `WAIT` counts the replicas that have every write made on the connection
 * it is sent on. On a Cluster the client keeps one connection per node
 * and routes each command by its key's slot, so a grant is sent on the
 * connection of the primary that serves the job's slot, and its `WAIT`
 * follows on that same connection: it can never be confirmed by a node
 * that did not run it.
 *
 * @module
 */

import { ExecutionGuardErrorKind, InvalidJobKind } from "../constants.ts";
import {
  describeThrown,
  describeValue,
  ExecutionGuardError,
  InvalidJobError,
} from "../errors.ts";
import { checkOptions } from "../_options.ts";
import type { Cluster } from "iovalkey";
import type { ValkeyDurability } from "./execution_guard_options.ts";
import type { ValkeyClient, ValkeyTopology } from "./_open_client.ts";
import { guardError } from "./_guard_errors.ts";
import { SlotInMotionError } from "./_client.ts";
import { keySlot } from "./_key_slot.ts";

/**
 * Checks the `durability` option.
 *
 * @throws {InvalidJobError} kind `other` for a malformed value.
 */
export function resolveDurability(
  value: unknown,
  what: string,
): ValkeyDurability | undefined {
  if (value === undefined) return undefined;
  const options = checkOptions(value as ValkeyDurability, {
    what: `${what} durability`,
    known: ["replicas", "timeoutMs"],
  });
  for (const key of ["replicas", "timeoutMs"] as const) {
    const n = options[key];
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new InvalidJobError(
        `${what} durability.${key} must be an integer >= 1, got ${
          describeValue(n)
        }`,
        { kind: InvalidJobKind.Other },
      );
    }
  }
  return { replicas: options.replicas, timeoutMs: options.timeoutMs };
}

/**
 * Runs a granting script where its `WAIT` can follow it: on one server (or
 * through Sentinel), or without `durability`, on `client` (with its own
 * routing); on a Cluster with `durability`, on the connection of the
 * primary that serves `key`'s slot in the client's slot table. Answers the
 * reply and that connection.
 *
 * @throws {SlotInMotionError} (an outage, retried) when no known primary
 * serves the slot, or the node answers `MOVED` or `ASK`: the slot table
 * is refreshed meanwhile.
 */
export async function runGrant<T>(
  client: ValkeyClient,
  grant: {
    readonly durability: ValkeyDurability | undefined;
    readonly topology: ValkeyTopology;
    readonly key: string;
  },
  script: (connection: ValkeyClient) => Promise<T>,
): Promise<{ reply: T; connection: ValkeyClient }> {
  if (grant.durability === undefined || grant.topology !== "cluster") {
    return { reply: await script(client), connection: client };
  }
  const cluster = client as Cluster;
  const slot = keySlot(grant.key);
  const address = cluster.slots[slot]?.[0];
  const node = cluster.nodes("master").find((node) =>
    `${node.options.host}:${node.options.port}` === address
  );
  if (node === undefined) {
    cluster.refreshSlotsCache();
    throw new SlotInMotionError(
      `no known primary serves slot ${slot} of ${grant.key} yet (${
        address ?? "unassigned"
      })`,
    );
  }
  try {
    return { reply: await script(node), connection: node };
  } catch (cause) {
    const message = describeThrown(cause);
    if (!/^(MOVED|ASK)\b/.test(message)) throw cause;
    cluster.refreshSlotsCache();
    throw new SlotInMotionError(
      `slot ${slot} of ${grant.key} is moving: ${message}`,
      { cause },
    );
  }
}

/**
 * Waits until the replicas acknowledge everything `client` (the connection
 * {@linkcode runGrant} ran the grant on) wrote.
 *
 * @throws {ExecutionGuardError} kind `connection` when fewer replicas
 * acknowledged within the time; the lease stays until it expires, so the
 * occurrence is reported as an acquire failure and never run twice.
 */
export async function awaitReplicas(
  client: ValkeyClient,
  grant: {
    readonly durability: ValkeyDurability;
    readonly jobId: string;
    readonly leaseKey: string;
  },
): Promise<void> {
  const { replicas, timeoutMs } = grant.durability;
  let acknowledged: unknown;
  try {
    acknowledged = await client.call("WAIT", replicas, timeoutMs);
  } catch (cause) {
    throw guardError(cause, {
      operation: "acquire (WAIT)",
      jobId: grant.jobId,
      keys: [grant.leaseKey],
      client,
    });
  }
  if (typeof acknowledged !== "number" || acknowledged < replicas) {
    throw new ExecutionGuardError(
      `Valkey execution guard acquire for job ${JSON.stringify(grant.jobId)}: ${
        describeValue(acknowledged)
      } of ${replicas} replica(s) acknowledged the grant within ${timeoutMs} ms; the lease ${grant.leaseKey} is left to expire`,
      { kind: ExecutionGuardErrorKind.Connection },
    );
  }
}
