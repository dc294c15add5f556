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
import { type CounterFound, FencingWatch } from "../guard/fencing.ts";
import { GuardedEventTarget } from "../guard/guarded_event_target.ts";
import {
  type LeaseConfig,
  requireSlot,
  type ResolvedLeaseConfig,
  resolveLeaseConfig,
} from "../guard/lease_config.ts";
import { renewalBudget, resolveRetryBudget } from "../_retry.ts";
import { guardKv, KV_GUARD_RETRY_BUDGET_MS } from "./_kv_errors.ts";
import { requireKv, validateKeyPrefix } from "./state_store.ts";
import { checkOptions } from "../_options.ts";
import type { InFlightLedger } from "../guard/in_flight.ts";
import { DenoKvInFlightLedger } from "./_in_flight_ledger.ts";
import { nextFencingToken } from "./_fencing_counter.ts";
import { type KvGuardLink, linkGuard } from "./_guard_link.ts";
import { readOrSetAside } from "./_quarantine.ts";
import {
  grantedLease,
  heldLease,
  type LeaseRecord,
  markDone,
  MAX_CONFLICTS,
  readLeaseRecord,
} from "./_lease_record.ts";

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
  readonly #kv: Deno.Kv;
  readonly #lease: ResolvedLeaseConfig;
  readonly #prefix: Deno.KvKey;
  readonly #retryBudgetMs: number;
  readonly #fencing = new FencingWatch();
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
    this.#kv = requireKv(kv, "DenoKvExecutionGuard");
    checkOptions(options, {
      what: "DenoKvExecutionGuard options",
      known: ["keyPrefix", "retryBudgetMs"],
    });
    this.#prefix = validateKeyPrefix(
      options?.keyPrefix === undefined
        ? DEFAULT_LEASE_KEY_PREFIX
        : options.keyPrefix,
      "DenoKvExecutionGuard",
    );
    this.#retryBudgetMs = resolveRetryBudget(
      options?.retryBudgetMs,
      "DenoKvExecutionGuard",
    );
    const link: KvGuardLink = {
      kv: this.#kv,
      lease: this.#lease,
      prefix: this.#prefix,
      guarded: (operation, jobId, body) =>
        this.#guarded(operation, jobId, body),
      nextToken: (jobId, fence, now) =>
        nextFencingToken(this.#fencing, jobId, fence, now),
      reportReset: (grant) => this.#reportReset(grant),
      heldExpiry: () => this.#heldExpiry(),
    };
    this.inFlight = new DenoKvInFlightLedger(link);
    linkGuard(this, link); // for DenoKvStateStore's leased writes
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
    const scheduledAt = requireSlot(slot);
    const { jobId } = slot;
    const leaseKey = this.#leaseKey(jobId, scheduledAt);
    const fenceKey = [...this.#prefix, "fence", jobId];
    return await this.#guarded("acquire", jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const [lease, fence] = await this.#kv.getMany<[unknown, unknown]>([
          leaseKey,
          fenceKey,
        ]);
        const now = Date.now();
        // Damaged entries are set aside (see _quarantine.ts).
        const read = { prefix: this.#prefix, entry: lease };
        if (lease.value !== null) {
          const record = await readOrSetAside(
            this.#kv,
            read,
            () => readLeaseRecord(lease.value, jobId, leaseKey),
          );
          // Held and alive, or completed within the retention: not ours.
          if (record.deadline > now) return { kind: "contended" };
        }
        const { fencingToken, counter } = await readOrSetAside(
          this.#kv,
          { ...read, entry: fence },
          () => nextFencingToken(this.#fencing, jobId, fence, now),
        );
        const record = heldLease(fencingToken, now + this.#lease.ttlMs);
        const committed = await this.#kv.atomic()
          .check(lease)
          .check(fence)
          .set(leaseKey, record, { expireIn: this.#heldExpiry() })
          .set(fenceKey, fencingToken)
          .commit();
        if (committed.ok) {
          this.#reportReset({ jobId, fencingToken, counter });
          return {
            kind: "acquired",
            lease: grantedLease({
              prefix: this.#prefix,
              jobId,
              scheduledAt,
              record,
            }),
          };
        }
      }
      // Every attempt lost a race for these keys: someone else is at work.
      return { kind: "contended" };
    });
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
    const key = this.#leaseKey(lease.jobId, lease.scheduledAt);
    return await this.#guarded("renew", lease.jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const entry = await this.#kv.get<unknown>(key);
        const now = Date.now();
        if (!this.#heldBy(entry.value, lease, lease.jobId, now)) return "lost";
        const record = entry.value as LeaseRecord;
        const committed = await this.#kv.atomic()
          .check(entry)
          .set(key, { ...record, deadline: now + this.#lease.ttlMs }, {
            expireIn: this.#heldExpiry(),
          })
          .commit();
        if (committed.ok) return "renewed";
      }
      return "lost";
    });
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
    const key = this.#leaseKey(lease.jobId, lease.scheduledAt);
    const retention = this.#lease.completedRetentionMs;
    await this.#guarded("release", lease.jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const entry = await this.#kv.get<unknown>(key);
        if (entry.value === null) return;
        const record = readLeaseRecord(entry.value, lease.jobId, key);
        // Past its deadline but not taken over, the lease is still ours:
        // the run did complete, so the occurrence is done.
        if (record.status !== "held" || record.token !== lease.token) return;
        const operation = markDone(this.#kv.atomic().check(entry), {
          key,
          held: record,
          retentionMs: retention,
        });
        if ((await operation.commit()).ok) return;
      }
    });
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

  #reportReset(
    grant: { jobId: string; fencingToken: bigint; counter: CounterFound },
  ): void {
    const reset = this.#fencing.granted(grant);
    if (reset !== undefined) {
      this.dispatchEvent(new CustomEvent(reset.type, { detail: reset }));
    }
  }

  /** A held lease expires a while after its deadline; only a cleanup hint. */
  #heldExpiry(): number {
    return this.#lease.ttlMs + Math.max(this.#lease.completedRetentionMs, 1);
  }

  #heldBy(
    value: unknown,
    lease: ExecutionLease,
    jobId: string,
    now: number,
  ): boolean {
    if (value === null) return false;
    const key = this.#leaseKey(lease.jobId, lease.scheduledAt);
    const record = readLeaseRecord(value, jobId, key);
    return record.status === "held" && record.token === lease.token &&
      record.deadline > now;
  }

  #leaseKey(jobId: string, scheduledAt: Date): Deno.KvKey {
    return [...this.#prefix, "lease", jobId, scheduledAt.getTime()];
  }

  #guarded<T>(
    operation: string,
    jobId: string,
    body: () => Promise<T>,
  ): Promise<T> {
    return guardKv({
      operation,
      jobId,
      budgets: {
        contentionMs: KV_GUARD_RETRY_BUDGET_MS,
        connectionMs: operation === "renew"
          ? renewalBudget(this.#retryBudgetMs, this.#lease)
          : this.#retryBudgetMs,
      },
    }, body);
  }
}
