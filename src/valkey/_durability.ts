/**
 * The guard's opt-in durability: after a grant, `WAIT` for replicas to
 * acknowledge it on the same connection, so the lease survives a failover
 * (see `docs/valkey.md`, "What WAIT buys and costs").
 *
 * @module
 */

import { ExecutionGuardErrorKind, InvalidJobKind } from "../constants.ts";
import {
  describeValue,
  ExecutionGuardError,
  InvalidJobError,
} from "../errors.ts";
import { checkOptions } from "../_options.ts";
import type { ValkeyDurability } from "./execution_guard_options.ts";
import type { ValkeyClient, ValkeyTopology } from "./_open_client.ts";
import { guardError } from "./_guard_errors.ts";

/**
 * Checks the `durability` option.
 *
 * @throws {InvalidJobError} kind `other` for a malformed value, or any
 * value on a Cluster (where `WAIT` would not reach the node that ran the
 * grant).
 */
export function resolveDurability(
  value: unknown,
  topology: ValkeyTopology,
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
  if (topology === "cluster") {
    throw new InvalidJobError(
      `${what} durability is not available on a Cluster: WAIT would not reach the node that granted the lease`,
      { kind: InvalidJobKind.Other },
    );
  }
  return { replicas: options.replicas, timeoutMs: options.timeoutMs };
}

/**
 * Waits until the replicas acknowledge everything this connection wrote.
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
