/**
 * An execution guard on Valkey (or Redis): at most one run per occurrence
 * among every instance connected to the server, with fencing tokens.
 *
 * @module
 */

import { formatRfc3339 } from "../schedule/_rfc3339.ts";
import type { ExecutionGuard } from "../guard/execution_guard.ts";
import type {
  ExecutionGuardAcquire,
  ExecutionGuardRenewal,
  ExecutionLease,
  ExecutionSlot,
} from "../guard/lease.ts";
import { FencingWatch } from "../guard/fencing.ts";
import { GuardedEventTarget } from "../guard/guarded_event_target.ts";
import {
  type LeaseConfig,
  requireSlot,
  type ResolvedLeaseConfig,
  resolveLeaseConfig,
} from "../guard/lease_config.ts";
import { renewalBudget, resolveRetryBudget } from "../_retry.ts";
import {
  checkScriptPermissions,
  closeClient,
  connectClient,
  createClient,
  retryConnection,
  validatePrefix,
  validateUrl,
  type ValkeyClient,
} from "./_client.ts";
import { checkOptions } from "../_options.ts";
import { readGrant } from "./_fencing_reply.ts";
import { type GuardCall, guardError } from "./_guard_errors.ts";
import { defineLeaseCommands, RELEASE } from "./_lua_lease.ts";
import { defineQuarantineCommands } from "./_lua_quarantine.ts";
import { setAsideGrantKeys } from "./_quarantine.ts";
import type { InFlightLedger } from "../guard/in_flight.ts";
import {
  defineInFlightCommands,
  ValkeyInFlightLedger,
} from "./_in_flight_ledger.ts";

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

/**
 * Options of {@linkcode ValkeyExecutionGuard.connect}.
 *
 * @example
 * ```ts
 * import type { ValkeyExecutionGuardOptions } from "@cloudiful/scheduler/valkey";
 * // For ValkeyExecutionGuard.connect(url, lease, options).
 * const options: ValkeyExecutionGuardOptions = { keyPrefix: "my-app:lease:" };
 * ```
 */
export interface ValkeyExecutionGuardOptions {
  /**
   * Lease keys are `<keyPrefix><jobId>:<scheduledAt>` (RFC 3339 UTC, nine
   * fractional digits); the fencing counter is `<keyPrefix><jobId>:fencing-token`.
   *
   * @default {"scheduler:valkey:execution-lease:"}
   */
  keyPrefix?: string;
  /**
   * How long an acquire or release retries connection-class failures with a
   * capped exponential back-off before it fails with kind `connection`; a
   * renewal retries no longer than its lease can still be alive
   * (`ttlMs - renewIntervalMs`). 0 fails at once.
   *
   * @default {10000}
   */
  retryBudgetMs?: number;
}

/** The default prefix of lease keys (the Rust crate's). */
export const DEFAULT_LEASE_PREFIX = "scheduler:valkey:execution-lease:";

/**
 * Guards occurrences with leases in Valkey. Each operation is one atomic
 * server-side script (sent as one command); acquire also allots the fencing
 * token, strictly greater than every earlier grant's for the job id (`INCR`
 * in the same script). A released lease key stays in place as a done marker
 * for `completedRetentionMs`.
 *
 * Tokens survive a counter reset (the server restarted empty): a missing
 * counter starts from the server time in microseconds, and never below the
 * highest token this guard has seen, which it reports with a
 * `fencing-reset` event ({@linkcode FencingResetDetail}). Tokens are
 * bigints, exact beyond 2^53.
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
export class ValkeyExecutionGuard extends GuardedEventTarget
  implements ExecutionGuard {
  readonly #client: ValkeyClient;
  readonly #lease: ResolvedLeaseConfig;
  readonly #prefix: string;
  #retryBudgetMs = 0;
  readonly #fencing = new FencingWatch();
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
    super();
    this.#client = client;
    this.#lease = lease;
    this.#prefix = prefix;
    this.inFlight = new ValkeyInFlightLedger({
      lease,
      prefix,
      call: (call, body) => this.#ledgerCall(call, body),
      floor: (jobId) => this.#fencing.floor(jobId),
      granted: (reply, granted) => this.#granted(reply, granted),
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
    checkOptions(options, {
      what: "ValkeyExecutionGuard.connect options",
      known: ["keyPrefix", "retryBudgetMs"],
    });
    const prefix = validatePrefix(
      options?.keyPrefix === undefined
        ? DEFAULT_LEASE_PREFIX
        : options.keyPrefix,
      "ValkeyExecutionGuard",
    );
    const retryBudgetMs = resolveRetryBudget(
      options?.retryBudgetMs,
      "ValkeyExecutionGuard",
    );
    const client = createClient(url);
    try {
      await connectClient(client);
      await checkScriptPermissions(client);
    } catch (cause) {
      await closeClient(client);
      throw guardError(cause, { operation: "connect", jobId: "(none yet)" });
    }
    defineLeaseCommands(client);
    defineInFlightCommands(client, RELEASE);
    defineQuarantineCommands(client);
    const guard = new ValkeyExecutionGuard(client, resolved, prefix);
    guard.#retryBudgetMs = retryBudgetMs;
    return guard;
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
    const fenceKey = `${this.#prefix}${slot.jobId}:fencing-token`;
    try {
      // A retry after a lost reply finds the key set by the first attempt
      // and answers contended: the occurrence is skipped, never run twice.
      const fence = await this.#retry(
        this.#retryBudgetMs,
        () =>
          (this.#client as unknown as {
            schedulerAcquire(...args: (string | number)[]): Promise<unknown>;
          }).schedulerAcquire(
            leaseKey,
            fenceKey,
            token,
            this.#lease.ttlMs,
            String(this.#fencing.floor(slot.jobId)),
          ),
      );
      // Inside the try: a reply that is no token (a damaged counter that
      // INCR still took) sets the counter aside too.
      return this.#granted(fence, {
        jobId: slot.jobId,
        scheduledAt,
        token,
        leaseKey,
      });
    } catch (cause) {
      const error = guardError(cause, {
        operation: "acquire",
        jobId: slot.jobId,
        keys: [leaseKey, fenceKey],
        client: this.#client,
      });
      // Damaged keys are set aside, so the next grant goes through.
      throw await setAsideGrantKeys(this.#client, {
        error,
        prefix: this.#prefix,
        jobId: slot.jobId,
        leaseKey,
        token,
      });
    }
  }

  /**
   * The answer to an acquire (or an in-flight acquire or reclaim) whose
   * script replied `reply`: contended for nil, else the lease with the
   * fencing token, a counter reset reported.
   */
  #granted(
    reply: unknown,
    lease: Omit<ExecutionLease, "fencingToken">,
  ): ExecutionGuardAcquire {
    const { answer, reset } = readGrant(reply, lease, this.#fencing);
    if (reset !== undefined) {
      this.dispatchEvent(new CustomEvent(reset.type, { detail: reset }));
    }
    return answer;
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
      const renewed = await this.#retry(
        renewalBudget(this.#retryBudgetMs, this.#lease),
        () =>
          (this.#client as unknown as {
            schedulerRenew(...args: (string | number)[]): Promise<number>;
          }).schedulerRenew(lease.leaseKey, lease.token, this.#lease.ttlMs),
      );
      return renewed === 1 ? "renewed" : "lost";
    } catch (cause) {
      throw guardError(cause, {
        operation: "renew",
        jobId: lease.jobId,
        keys: [lease.leaseKey],
        client: this.#client,
      });
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
      await this.#retry(this.#retryBudgetMs, () =>
        (this.#client as unknown as {
          schedulerRelease(...args: (string | number)[]): Promise<number>;
        }).schedulerRelease(
          lease.leaseKey,
          lease.token,
          this.#lease.completedRetentionMs,
        ));
    } catch (cause) {
      throw guardError(cause, {
        operation: "release",
        jobId: lease.jobId,
        keys: [lease.leaseKey],
        client: this.#client,
      });
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

  /** The single point where client calls meet the retry budget. */
  #retry<T>(budgetMs: number, call: () => Promise<T>): Promise<T> {
    return retryConnection(call, { client: this.#client, budgetMs });
  }

  /**
   * Runs one in-flight ledger script on this guard's client, retried and
   * its failure typed like the guard's own calls. Every ledger script is
   * safe to repeat after a lost reply (see `ValkeyInFlightLedger`).
   */
  async #ledgerCall<T>(
    call: Omit<GuardCall, "client">,
    body: (client: ValkeyClient) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.#retry(
        this.#retryBudgetMs,
        () => body(this.#client),
      );
    } catch (cause) {
      throw guardError(cause, { ...call, client: this.#client });
    }
  }
}
