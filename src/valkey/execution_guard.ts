/**
 * An execution guard on Valkey (or Redis): at most one run per occurrence
 * among every instance connected to the server, with fencing tokens.
 *
 * @module
 */

import { formatRfc3339 } from "../_rfc3339.ts";
import { ExecutionGuardErrorKind } from "../constants.ts";
import {
  describeThrown,
  describeValue,
  ExecutionGuardError,
} from "../errors.ts";
import type {
  ExecutionGuard,
  ExecutionGuardAcquire,
  ExecutionGuardRenewal,
  ExecutionLease,
  ExecutionSlot,
} from "../guard/execution_guard.ts";
import {
  type LeaseConfig,
  requireSlot,
  type ResolvedLeaseConfig,
  resolveLeaseConfig,
} from "../guard/lease_config.ts";
import {
  closeClient,
  connectClient,
  createClient,
  isConnectionError,
  isDataError,
  validatePrefix,
  validateUrl,
  type ValkeyClient,
} from "./_client.ts";
import type { InFlightLedger } from "../guard/in_flight.ts";
import {
  defineInFlightCommands,
  ValkeyInFlightLedger,
} from "./in_flight_ledger.ts";

/**
 * How long a Valkey lease lasts and how often it is renewed.
 *
 * @example
 * ```ts
 * import type { ValkeyLeaseConfig } from "@cloudiful/scheduler/valkey";
 * const lease: ValkeyLeaseConfig = { ttlMs: 30_000, renewIntervalMs: 10_000 };
 * ```
 */
export type ValkeyLeaseConfig = LeaseConfig;

/** Options of {@linkcode ValkeyExecutionGuard.connect}. */
export interface ValkeyExecutionGuardOptions {
  /**
   * Lease keys are `<keyPrefix><jobId>:<scheduledAt>` (RFC 3339 UTC, nine
   * fractional digits); the fencing counter is `<keyPrefix><jobId>:fencing-token`.
   *
   * @default {"scheduler:valkey:execution-lease:"}
   */
  keyPrefix?: string;
}

/** The default prefix of lease keys (the Rust crate's). */
export const DEFAULT_LEASE_PREFIX = "scheduler:valkey:execution-lease:";

/**
 * Takes the occurrence if its key is absent: allots the next fencing token
 * and sets the key to the holder's token with a millisecond expiry. A done
 * marker or another holder's token means contended (nil).
 */
const ACQUIRE = `
if redis.call("EXISTS", KEYS[1]) == 1 then return false end
local fence = redis.call("INCR", KEYS[2])
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return fence`;

/** Extends the lease only while it still holds the caller's token. */
const RENEW = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`;

/**
 * Turns the caller's lease into a done marker kept for the retention (the
 * key stays, so a Rust instance's SET NX also sees the occurrence taken), or
 * deletes it when the retention is 0. A lease that expired while its run
 * was finishing is marked done too; someone else's key is left alone.
 */
const RELEASE = `
local current = redis.call("GET", KEYS[1])
if current ~= false and current ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call("SET", KEYS[1], "done:" .. ARGV[1], "PX", ARGV[2])
else
  redis.call("DEL", KEYS[1])
end
return 1`;

function guardError(
  cause: unknown,
  operation: string,
  jobId: string,
): ExecutionGuardError {
  if (cause instanceof ExecutionGuardError) return cause;
  return new ExecutionGuardError(
    `Valkey execution guard ${operation} failed for job ${
      JSON.stringify(jobId)
    }: ${describeThrown(cause)}`,
    {
      kind: isConnectionError(cause)
        ? ExecutionGuardErrorKind.Connection
        : isDataError(cause)
        ? ExecutionGuardErrorKind.Data
        : ExecutionGuardErrorKind.Unknown,
      cause,
    },
  );
}

/**
 * Guards occurrences with leases in Valkey. Each operation is one atomic
 * server-side script (sent as one command); acquire also allots the fencing
 * token, strictly greater than every earlier grant's for the job id (`INCR`
 * in the same script). A released lease key stays in place as a done marker
 * for `completedRetentionMs`.
 *
 * @example Two instances, one server
 * ```ts ignore
 * import { ValkeyExecutionGuard } from "@cloudiful/scheduler/valkey";
 * import { InMemoryStateStore, Scheduler } from "@cloudiful/scheduler";
 * const guard = await ValkeyExecutionGuard.connect("redis://127.0.0.1:6379", {
 *   ttlMs: 30_000,
 *   renewIntervalMs: 10_000,
 * });
 * const scheduler = Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard);
 * // ... scheduler.run(job) ...
 * await guard.close();
 * ```
 */
export class ValkeyExecutionGuard implements ExecutionGuard {
  readonly #client: ValkeyClient;
  readonly #lease: ResolvedLeaseConfig;
  readonly #prefix: string;
  /**
   * The in-flight ledger for at-least-once jobs: the hash
   * `<keyPrefix><jobId>:in-flight` beside the lease keys (see the README).
   */
  readonly inFlight: InFlightLedger;

  private constructor(
    client: ValkeyClient,
    lease: ResolvedLeaseConfig,
    prefix: string,
  ) {
    this.#client = client;
    this.#lease = lease;
    this.#prefix = prefix;
    this.inFlight = new ValkeyInFlightLedger({
      client,
      lease,
      prefix,
      fail: guardError,
    });
  }

  /**
   * Validates the lease config and connects to `url`.
   *
   * @throws {ExecutionGuardError} kind `data` for an invalid lease config,
   * kind `connection` when the server cannot be reached.
   * @throws {InvalidJobError} kind `other` for a bad URL or prefix.
   *
   * @example
   * ```ts ignore
   * import { ValkeyExecutionGuard } from "@cloudiful/scheduler/valkey";
   * const guard = await ValkeyExecutionGuard.connect("redis://127.0.0.1:6379", {
   *   ttlMs: 30_000,
   *   renewIntervalMs: 10_000,
   *   completedRetentionMs: 3_600_000,
   * });
   * await guard.close();
   * ```
   */
  static async connect(
    url: string,
    lease: ValkeyLeaseConfig,
    options: ValkeyExecutionGuardOptions = {},
  ): Promise<ValkeyExecutionGuard> {
    const resolved = resolveLeaseConfig(lease);
    validateUrl(url, "ValkeyExecutionGuard.connect");
    const prefix = validatePrefix(
      options?.keyPrefix === undefined
        ? DEFAULT_LEASE_PREFIX
        : options.keyPrefix,
      "ValkeyExecutionGuard",
    );
    const client = createClient(url);
    try {
      await connectClient(client);
    } catch (cause) {
      await closeClient(client);
      throw guardError(cause, "connect", "(none yet)");
    }
    client.defineCommand("schedulerAcquire", { numberOfKeys: 2, lua: ACQUIRE });
    client.defineCommand("schedulerRenew", { numberOfKeys: 1, lua: RENEW });
    client.defineCommand("schedulerRelease", { numberOfKeys: 1, lua: RELEASE });
    defineInFlightCommands(client, RELEASE);
    return new ValkeyExecutionGuard(client, resolved, prefix);
  }

  /**
   * The lease key of an occurrence, as the Rust crate writes it:
   * `<prefix><jobId>:<RFC 3339 UTC with nine fractional digits>`.
   *
   * @example
   * ```ts ignore
   * guard.leaseKey("job-1", new Date("2026-04-03T01:02:03Z"));
   * // "scheduler:valkey:execution-lease:job-1:2026-04-03T01:02:03.000000000Z"
   * ```
   */
  leaseKey(jobId: string, scheduledAt: Date): string {
    return `${this.#prefix}${jobId}:${formatRfc3339(scheduledAt.getTime(), 9)}`;
  }

  /**
   * Takes the occurrence unless another instance holds it or has completed
   * it within `completedRetentionMs`.
   *
   * @example
   * ```ts ignore
   * const answer = await guard.acquire({ jobId: "job-1", scheduledAt: new Date() });
   * ```
   */
  async acquire(slot: ExecutionSlot): Promise<ExecutionGuardAcquire> {
    const scheduledAt = requireSlot(slot);
    const leaseKey = this.leaseKey(slot.jobId, scheduledAt);
    const token = crypto.randomUUID();
    let fence: unknown;
    try {
      fence = await (this.#client as unknown as {
        schedulerAcquire(...args: (string | number)[]): Promise<unknown>;
      }).schedulerAcquire(
        leaseKey,
        `${this.#prefix}${slot.jobId}:fencing-token`,
        token,
        this.#lease.ttlMs,
      );
    } catch (cause) {
      throw guardError(cause, "acquire", slot.jobId);
    }
    if (fence === null) return { kind: "contended" };
    if (typeof fence !== "number" && typeof fence !== "string") {
      throw new ExecutionGuardError(
        `Valkey acquire for job ${JSON.stringify(slot.jobId)} answered ${
          describeValue(fence)
        } instead of a fencing token`,
        { kind: ExecutionGuardErrorKind.Data },
      );
    }
    return {
      kind: "acquired",
      lease: {
        jobId: slot.jobId,
        scheduledAt: new Date(scheduledAt.getTime()),
        token,
        leaseKey,
        fencingToken: BigInt(fence),
      },
    };
  }

  /**
   * Extends the lease by `ttlMs` if this holder still has it.
   *
   * @example
   * ```ts ignore
   * const renewal = await guard.renew(lease); // "renewed" or "lost"
   * ```
   */
  async renew(lease: ExecutionLease): Promise<ExecutionGuardRenewal> {
    try {
      const renewed = await (this.#client as unknown as {
        schedulerRenew(...args: (string | number)[]): Promise<number>;
      }).schedulerRenew(lease.leaseKey, lease.token, this.#lease.ttlMs);
      return renewed === 1 ? "renewed" : "lost";
    } catch (cause) {
      throw guardError(cause, "renew", lease.jobId);
    }
  }

  /**
   * Marks the occurrence done if this holder still has it; does nothing
   * otherwise.
   *
   * @example
   * ```ts ignore
   * await guard.release(lease);
   * ```
   */
  async release(lease: ExecutionLease): Promise<void> {
    try {
      await (this.#client as unknown as {
        schedulerRelease(...args: (string | number)[]): Promise<number>;
      }).schedulerRelease(
        lease.leaseKey,
        lease.token,
        this.#lease.completedRetentionMs,
      );
    } catch (cause) {
      throw guardError(cause, "release", lease.jobId);
    }
  }

  /**
   * How often the scheduler renews a lease: the configured `renewIntervalMs`.
   *
   * @example
   * ```ts ignore
   * guard.renewIntervalMs(); // 10000
   * ```
   */
  renewIntervalMs(_lease?: ExecutionLease): number {
    return this.#lease.renewIntervalMs;
  }

  /**
   * Ends the connection, so that the process can exit.
   *
   * @example
   * ```ts ignore
   * await guard.close();
   * ```
   */
  close(): Promise<void> {
    return closeClient(this.#client);
  }
}
