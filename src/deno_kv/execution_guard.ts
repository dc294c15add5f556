/**
 * An execution guard on Deno KV: at most one run per occurrence among every
 * process that shares the database, with fencing tokens.
 *
 * Needs Deno with `--unstable-kv` (or `"unstable": ["kv"]` in deno.json).
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
import { GuardedEventTarget } from "../guard/guarded_event_target.ts";
import {
  type LeaseConfig,
  type ResolvedLeaseConfig,
  resolveLeaseConfig,
} from "../guard/lease_config.ts";
import { resolveRetryBudget } from "../_retry.ts";
import { requireKv, validateKeyPrefix } from "./_kv_input.ts";
import { checkOptions } from "../_options.ts";
import type { InFlightLedger } from "../guard/in_flight.ts";
import { type KvGuardSeed, linkGuard } from "./_guard_link.ts";
import { lazy } from "../_lazy.ts";
import type { KvGuard } from "./_kv_guard.ts";

/** The guard's calls, loaded on the first (ARCHITECTURE.md). */
const calls = lazy(() => import("./_kv_guard.ts"));

/**
 * Options of {@linkcode DenoKvExecutionGuard}.
 *
 * @example
 * ```ts
 * import {
 *   DenoKvExecutionGuard,
 *   type DenoKvExecutionGuardOptions,
 * } from "@cloudiful/scheduler";
 * const kv = await Deno.openKv(":memory:");
 * const options: DenoKvExecutionGuardOptions = { keyPrefix: ["my-app", "leases"] };
 * const guard = new DenoKvExecutionGuard(
 *   kv,
 *   { ttlMs: 30_000, renewIntervalMs: 10_000 },
 *   options,
 * );
 * kv.close();
 * ```
 */
export interface DenoKvExecutionGuardOptions {
  /**
   * Leases live under `[...keyPrefix, "lease", jobId, scheduledAtMs]`, the
   * fencing counter of a job under `[...keyPrefix, "fence", jobId]`.
   *
   * @default {["scheduler", "execution-lease"]}
   */
  keyPrefix?: Deno.KvKey;
  /**
   * How long an acquire or release retries connection-class failures other
   * than contention (interrupted, refused, reset, timed out — a remote KV)
   * with a capped exponential back-off before it fails with kind
   * `connection`; a renewal retries no longer than its lease can still be
   * alive (`ttlMs - renewIntervalMs`). 0 fails at once. A closed database is
   * never retried; contention is retried on its own 120 s budget.
   *
   * @default {10000}
   */
  retryBudgetMs?: number;
}

/** The default key prefix of leases. */
export const DEFAULT_LEASE_KEY_PREFIX: Deno.KvKey = [
  "scheduler",
  "execution-lease",
];

/**
 * Guards occurrences with leases in Deno KV; several processes may share one
 * KV file.
 *
 * - Each operation is one atomic commit guarded by versionstamp checks.
 * - A lease carries its own deadline (`ttlMs`, extended by each renewal);
 *   KV's `expireIn` is only a cleanup hint, never relied upon.
 * - Each grant allots a fencing token strictly greater than every earlier
 *   grant's for the same job id, in the same commit as the grant. A missing
 *   counter (the file was deleted) starts from the time in microseconds and
 *   never below the highest token this guard has seen; finding it reset
 *   dispatches `fencing-reset` ({@linkcode FencingResetDetail}).
 * - A released occurrence stays marked done for `completedRetentionMs`, so a
 *   lagging instance cannot run it again.
 * - Renew and release act only for the holder's token.
 * - Contention ("database is locked") is retried, never reported.
 *
 * @example Two schedulers, one KV file, each occurrence runs once
 * ```ts
 * import {
 *   DenoKvExecutionGuard,
 *   InMemoryStateStore,
 *   Job,
 *   Schedule,
 *   Scheduler,
 *   Task,
 * } from "@cloudiful/scheduler";
 * const kv = await Deno.openKv(":memory:");
 * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 30_000, renewIntervalMs: 10_000 });
 * let runs = 0;
 * const at = Date.now() + 20;
 * const job = Job.withoutDeps("report", Schedule.atTimes([at]), Task.fromSync(() => void runs++));
 * await Promise.all([
 *   Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard).run(job),
 *   Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard).run(job),
 * ]);
 * console.log(runs); // 1
 * kv.close();
 * ```
 */
export class DenoKvExecutionGuard extends GuardedEventTarget
  implements ExecutionGuard {
  readonly #lease: ResolvedLeaseConfig;
  readonly #seed: KvGuardSeed;
  #calls: KvGuard | undefined;
  /**
   * The in-flight ledger for at-least-once jobs: records under
   * `[...keyPrefix, "in-flight", jobId, scheduledAtMs]` (see the README).
   */
  readonly inFlight: InFlightLedger;

  /**
   * Builds a guard on an open `Deno.Kv`.
   *
   * @param kv The database shared by all instances.
   * @param lease `ttlMs`, `renewIntervalMs` (< `ttlMs`) and
   * `completedRetentionMs` (default one hour).
   * @param options `keyPrefix` of the lease keys.
   * @throws {ExecutionGuardError} kind `data` for an invalid lease config.
   * @throws {InvalidJobError} kind `other` for an invalid `kv` or prefix.
   */
  constructor(
    kv: Deno.Kv,
    lease: LeaseConfig,
    options: DenoKvExecutionGuardOptions = {},
  ) {
    super();
    this.#lease = resolveLeaseConfig(lease);
    const checkedKv = requireKv(kv, "DenoKvExecutionGuard");
    checkOptions(options, {
      what: "DenoKvExecutionGuard options",
      known: ["keyPrefix", "retryBudgetMs"],
    });
    const prefix = validateKeyPrefix(
      options?.keyPrefix === undefined
        ? DEFAULT_LEASE_KEY_PREFIX
        : options.keyPrefix,
      "DenoKvExecutionGuard",
    );
    this.#seed = {
      kv: checkedKv,
      lease: this.#lease,
      prefix,
      retryBudgetMs: resolveRetryBudget(
        options?.retryBudgetMs,
        "DenoKvExecutionGuard",
      ),
      target: this,
    };
    const ledger = () => this.#loaded().then((calls) => calls.inFlight);
    this.inFlight = {
      acquire: async (slot) => await (await ledger()).acquire(slot),
      complete: async (held) => await (await ledger()).complete(held),
      abandon: async (held) => await (await ledger()).abandon(held),
      list: async (jobId) => await (await ledger()).list(jobId),
      reclaim: async (record) => await (await ledger()).reclaim(record),
    };
    linkGuard(this, this.#seed); // for DenoKvStateStore's leased writes
  }

  /** The calls, loaded and built on the first. */
  #loaded(): Promise<KvGuard> {
    if (this.#calls !== undefined) return Promise.resolve(this.#calls);
    return calls.load().then((module) =>
      this.#calls ??= new module.KvGuard(this.#seed)
    );
  }

  /**
   * Takes the occurrence unless another instance holds it or has completed
   * it within `completedRetentionMs`.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * const slot = { jobId: "job", scheduledAt: new Date("2026-04-03T01:00:00Z") };
   * const first = await guard.acquire(slot);
   * const second = await guard.acquire(slot);
   * console.log(first.kind, second.kind); // acquired contended
   * kv.close();
   * ```
   */
  async acquire(slot: ExecutionSlot): Promise<ExecutionGuardAcquire> {
    return await (this.#calls ?? await this.#loaded()).acquire(slot);
  }

  /**
   * Extends the lease by `ttlMs` if this holder still has it and its
   * deadline has not passed; otherwise `lost`.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * const answer = await guard.acquire({ jobId: "job", scheduledAt: new Date() });
   * if (answer.kind === "acquired") console.log(await guard.renew(answer.lease)); // renewed
   * kv.close();
   * ```
   */
  async renew(lease: ExecutionLease): Promise<ExecutionGuardRenewal> {
    return await (this.#calls ?? await this.#loaded()).renew(lease);
  }

  /**
   * Marks the occurrence done (kept for `completedRetentionMs`) if this
   * holder still has it; does nothing otherwise.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * const slot = { jobId: "job", scheduledAt: new Date() };
   * const answer = await guard.acquire(slot);
   * if (answer.kind === "acquired") await guard.release(answer.lease);
   * console.log((await guard.acquire(slot)).kind); // contended: it is done
   * kv.close();
   * ```
   */
  async release(lease: ExecutionLease): Promise<void> {
    await (this.#calls ?? await this.#loaded()).release(lease);
  }

  /**
   * How often the scheduler renews a lease: the configured
   * `renewIntervalMs`.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * console.log(guard.renewIntervalMs()); // 300
   * kv.close();
   * ```
   */
  renewIntervalMs(_lease?: ExecutionLease): number {
    return this.#lease.renewIntervalMs;
  }
}
