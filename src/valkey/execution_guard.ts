/**
 * An execution guard on Valkey (or Redis): at most one run per occurrence
 * among every instance connected to the server, with fencing tokens.
 *
 * @module
 */

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
import type { ValkeyClient } from "./_open_client.ts";
import { checkOptions } from "../_options.ts";
import { formatRfc3339 } from "../schedule/_rfc3339.ts";
import { readGrant } from "./_fencing_reply.ts";
import { newAcquireId, recordlessGrant } from "./_grant_holder.ts";
import { type GuardCall, guardError } from "./_guard_errors.ts";
import { commands, type SchedulerCommands } from "./_commands.ts";
import { setAsideGrantKeys } from "./_quarantine.ts";
import type { InFlightLedger } from "../guard/in_flight.ts";
import { ValkeyInFlightLedger } from "./_in_flight_ledger.ts";
import { type LeasedGuard, registerLeasedGuard } from "./_leased_writes.ts";
import { DEFAULT_LEASE_PREFIX } from "./_key_layout.ts";
import { ValkeyLink } from "./_link.ts";
import type { ValkeyConnection, ValkeyKeyLayout } from "./connection.ts";
import type {
  ValkeyDurability,
  ValkeyExecutionGuardOptions,
} from "./execution_guard_options.ts";
import { awaitReplicas, resolveDurability, runGrant } from "./_durability.ts";
import { InvalidJobError, isInstance } from "../errors.ts";

type GrantScript = (c: SchedulerCommands) => Promise<unknown>;

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
 * Guards occurrences with leases in Valkey. Each operation is one atomic
 * server-side script (sent as one command); acquire also allots the fencing
 * token, strictly greater than every earlier grant's for the job id (`INCR`
 * in the same script). A released lease key stays in place as a done marker
 * for `completedRetentionMs`.
 *
 * Each grant raises the counter to at least the server's clock in
 * microseconds before incrementing it, so a token is never issued twice,
 * even when a failover promoted a replica that lost the last grants (see
 * `docs/valkey.md` for the clock assumption). A counter found missing or
 * below the highest token this guard has seen is reported with a
 * `fencing-reset` event ({@linkcode FencingResetDetail}) and raised above
 * it. Tokens are bigints, exact beyond 2^53.
 *
 * It connects like the store ({@linkcode ValkeyConnection}): one server, a
 * primary through Sentinel, a Cluster, or a client the user built, which
 * `close()` leaves open.
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
  readonly #link: ValkeyLink;
  readonly #lease: ResolvedLeaseConfig;
  #retryBudgetMs = 0;
  #durability: ValkeyDurability | undefined;
  readonly #fencing = new FencingWatch();
  /**
   * The in-flight ledger for at-least-once jobs: the hash
   * `<keyPrefix><jobId>:in-flight` beside the lease keys (see the README).
   */
  readonly inFlight: InFlightLedger;

  private constructor(link: ValkeyLink, lease: ResolvedLeaseConfig) {
    super();
    this.#link = link;
    this.#lease = lease;
    const lent: LeasedGuard = {
      link,
      lease,
      call: (call, body) => this.#ledgerCall(call, body),
      runGrant: (client, key, script) => this.#runGrant(client, key, script),
      read: (reply, lease) => this.#read(reply, lease),
      floor: (jobId) => this.#fencing.floor(jobId),
      durability: () => this.#durability,
    };
    registerLeasedGuard(this, lent);
    this.inFlight = new ValkeyInFlightLedger({
      ...lent,
      keys: link.keys,
      grant: async (call, lease, script) => {
        const { reply, connection } = await lent.call(
          call,
          (client) => lent.runGrant(client, lease.leaseKey, script),
        );
        return this.#granted(reply, lease, connection);
      },
    });
  }

  /**
   * Validates the lease config and connects to `connection`: a URL, a
   * Sentinel or Cluster configuration, or `{ client }` (a client the user
   * built, which `close()` leaves open).
   *
   * @throws {ExecutionGuardError} kind `data` for an invalid lease config,
   * kind `connection` when the server cannot be reached, kind `auth` when
   * it refuses the credentials.
   * @throws {InvalidJobError} kind `other` for a bad connection, prefix or
   * layout, a database index the server lacks, or keys claimed by another
   * layout.
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
    connection: ValkeyConnection,
    lease: ValkeyLeaseConfig,
    options: ValkeyExecutionGuardOptions = {},
  ): Promise<ValkeyExecutionGuard> {
    const what = "ValkeyExecutionGuard.connect";
    const resolved = resolveLeaseConfig(lease);
    checkOptions(options, {
      what: `${what} options`,
      known: ["keyPrefix", "keyLayout", "retryBudgetMs", "durability"],
    });
    const retryBudgetMs = resolveRetryBudget(
      options?.retryBudgetMs,
      "ValkeyExecutionGuard",
    );
    const link = ValkeyLink.open(connection, {
      what,
      keyPrefix: options.keyPrefix,
      defaultPrefix: DEFAULT_LEASE_PREFIX,
      keyLayout: options.keyLayout,
    });
    let durability: ValkeyDurability | undefined;
    try {
      durability = resolveDurability(options.durability, what);
      await link.connect();
    } catch (cause) {
      await link.close();
      if (isInstance(cause, InvalidJobError)) throw cause;
      throw guardError(cause, {
        operation: "connect",
        jobId: "(none yet)",
        client: link.client,
      });
    }
    const guard = new ValkeyExecutionGuard(link, resolved);
    guard.#retryBudgetMs = retryBudgetMs;
    guard.#durability = durability;
    return guard;
  }

  /**
   * The key layout in use (see {@linkcode ValkeyKeyLayout}).
   *
   * @example
   * ```ts ignore
   * console.log(guard.keyLayout); // "rust" or "cluster"
   * ```
   */
  get keyLayout(): ValkeyKeyLayout {
    return this.#link.keys.layout;
  }

  /**
   * The lease key of an occurrence: with the `"rust"` layout as the Rust
   * crate writes it, `<prefix><jobId>:<RFC 3339 UTC with nine fractional
   * digits>`; with `"cluster"`, `<prefix>{<jobId>}:<...>`.
   *
   * @example
   * ```ts ignore
   * guard.leaseKey("job-1", new Date("2026-04-03T01:02:03Z"));
   * // "scheduler:valkey:execution-lease:job-1:2026-04-03T01:02:03.000000000Z"
   * ```
   */
  leaseKey(jobId: string, scheduledAt: Date): string {
    return this.#link.keys.lease(jobId, scheduledAt);
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
    const { jobId } = slot;
    const leaseKey = this.leaseKey(jobId, scheduledAt);
    // Minted once: a retry after a lost reply sends the same id, finds the
    // grant the first attempt made and gets it back (_grant_holder.ts).
    const token = newAcquireId();
    const fenceKey = this.#link.keys.fence(jobId);
    const call = { operation: "acquire", jobId, keys: [leaseKey, fenceKey] };
    try {
      const { reply, connection } = await this.#ledgerCall(
        call,
        (client) =>
          this.#runGrant(client, leaseKey, (c) =>
            c.acquire(
              leaseKey,
              fenceKey,
              token,
              this.#lease.ttlMs,
              String(this.#fencing.floor(jobId)),
            )),
      );
      // Inside the try: a reply that is no token (a damaged counter that
      // INCR still took) sets the counter aside too.
      const lease = { jobId, scheduledAt, token, leaseKey };
      return recordlessGrant(
        await this.#granted(reply, lease, connection),
        token,
      );
    } catch (cause) {
      const error = guardError(cause, { ...call, client: this.#link.client });
      // Damaged keys are set aside, so the next grant goes through.
      const at = formatRfc3339(scheduledAt.getTime(), 9);
      throw await this.#ledgerCall(
        call,
        (client) =>
          setAsideGrantKeys(client, {
            error,
            keys: this.#link.keys,
            jobId,
            at,
            token,
          }),
      );
    }
  }

  /** Runs a grant of `key` where its `WAIT` can follow (see `runGrant`). */
  #runGrant(client: ValkeyClient, key: string, script: GrantScript) {
    const { topology } = this.#link;
    const on = { durability: this.#durability, topology, key };
    return runGrant(client, on, (c) => script(commands(c)));
  }

  /**
   * The answer to an acquire (or an in-flight acquire or reclaim) whose
   * script replied `reply` on `connection`: contended for nil, else the
   * lease with the fencing token, a counter reset reported.
   */
  async #granted(
    reply: unknown,
    lease: Omit<ExecutionLease, "fencingToken">,
    connection: ValkeyClient,
  ): Promise<ExecutionGuardAcquire> {
    const answer = this.#read(reply, lease);
    const durability = this.#durability;
    if (answer.kind === "acquired" && durability !== undefined) {
      await awaitReplicas(connection, { ...lease, durability });
    }
    return answer;
  }

  /** A granting script's reply read, a counter reset reported. */
  #read(reply: unknown, lease: Omit<ExecutionLease, "fencingToken">) {
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
      const renewed = await this.#link.retry(
        renewalBudget(this.#retryBudgetMs, this.#lease),
        (client) =>
          commands(client).renew(
            lease.leaseKey,
            lease.token,
            this.#lease.ttlMs,
          ),
      );
      return renewed === 1 ? "renewed" : "lost";
    } catch (cause) {
      throw guardError(cause, {
        operation: "renew",
        jobId: lease.jobId,
        keys: [lease.leaseKey],
        client: this.#link.client,
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
    const { jobId, leaseKey, token } = lease;
    const call = { operation: "release", jobId, keys: [leaseKey] };
    const retentionMs = this.#lease.completedRetentionMs;
    await this.#ledgerCall(
      call,
      (client) => commands(client).release(leaseKey, token, retentionMs),
    );
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
   * Ends the connection, so that the process can exit. A client the user
   * built stays open.
   *
   * @example
   * ```ts ignore
   * await guard.close();
   * ```
   */
  close(): Promise<void> {
    return this.#link.close();
  }

  /**
   * Runs one script on this guard's client, retried and its failure typed.
   * Every script is safe to repeat after a lost reply (see
   * `ValkeyInFlightLedger`, `_leased_writes.ts`).
   */
  async #ledgerCall<T>(
    call: Omit<GuardCall, "client">,
    body: (client: ValkeyClient) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.#link.retry(this.#retryBudgetMs, body);
    } catch (cause) {
      throw guardError(cause, { ...call, client: this.#link.client });
    }
  }
}
