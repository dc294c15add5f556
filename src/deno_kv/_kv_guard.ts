/**
 * The Deno KV guard's calls, loaded on the first one
 * (`execution_guard.ts` is the public class): acquire, renew and release,
 * each one atomic commit guarded by versionstamp checks, and the in-flight
 * ledger of at-least-once delivery.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import type {
  ExecutionGuardAcquire,
  ExecutionGuardRenewal,
  ExecutionLease,
  ExecutionSlot,
} from "../guard/lease.ts";
import { requireSlot } from "../guard/lease_config.ts";
import type { InFlightLedger } from "../guard/in_flight.ts";
import { DenoKvInFlightLedger } from "./_in_flight_ledger.ts";
import type { KvGuardLink, KvGuardSeed } from "./_guard_link.ts";
import { guardParts } from "./_guard_parts.ts";
import { readOrSetAside } from "./_quarantine.ts";
import {
  grantedLease,
  heldLease,
  type LeaseRecord,
  markDone,
  MAX_CONFLICTS,
  readLeaseRecord,
} from "./_lease_record.ts";

/** One guard's calls, over the parts its seed grew into. */
export class KvGuard {
  readonly #o: KvGuardLink;
  /** The in-flight ledger for at-least-once jobs. */
  readonly inFlight: InFlightLedger;

  constructor(seed: KvGuardSeed) {
    this.#o = guardParts(seed);
    this.inFlight = new DenoKvInFlightLedger(this.#o);
  }

  /** Takes the occurrence unless it is held or done. */
  async acquire(slot: ExecutionSlot): Promise<ExecutionGuardAcquire> {
    const scheduledAt = requireSlot(slot);
    const { jobId } = slot;
    const { kv, prefix } = this.#o;
    const leaseKey = this.#leaseKey(jobId, scheduledAt);
    const fenceKey = [...prefix, "fence", jobId];
    return await this.#o.guarded("acquire", jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const [lease, fence] = await kv.getMany<[unknown, unknown]>([
          leaseKey,
          fenceKey,
        ]);
        const now = Date.now();
        // Damaged entries are set aside (see _quarantine.ts).
        const read = { prefix, entry: lease };
        if (lease.value !== null) {
          const record = await readOrSetAside(
            kv,
            read,
            () => readLeaseRecord(lease.value, jobId, leaseKey),
          );
          // Held and alive, or completed within the retention: not ours.
          if (record.deadline > now) return { kind: "contended" };
        }
        const { fencingToken, counter } = await readOrSetAside(
          kv,
          { ...read, entry: fence },
          () => this.#o.nextToken(jobId, fence, now),
        );
        const record = heldLease(fencingToken, now + this.#o.lease.ttlMs);
        const committed = await kv.atomic()
          .check(lease)
          .check(fence)
          .set(leaseKey, record, { expireIn: this.#o.heldExpiry() })
          .set(fenceKey, fencingToken)
          .commit();
        if (committed.ok) {
          this.#o.reportReset({ jobId, fencingToken, counter });
          return {
            kind: "acquired",
            lease: grantedLease({ prefix, jobId, scheduledAt, record }),
          };
        }
      }
      // Every attempt lost a race for these keys: someone else is at work.
      return { kind: "contended" };
    });
  }

  /** Extends the lease by `ttlMs` while this holder still has it. */
  async renew(lease: ExecutionLease): Promise<ExecutionGuardRenewal> {
    const key = this.#leaseKey(lease.jobId, lease.scheduledAt);
    const { kv } = this.#o;
    return await this.#o.guarded("renew", lease.jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const entry = await kv.get<unknown>(key);
        const now = Date.now();
        if (!this.#heldBy(entry.value, lease, now)) return "lost";
        const record = entry.value as LeaseRecord;
        const committed = await kv.atomic()
          .check(entry)
          .set(key, { ...record, deadline: now + this.#o.lease.ttlMs }, {
            expireIn: this.#o.heldExpiry(),
          })
          .commit();
        if (committed.ok) return "renewed";
      }
      return "lost";
    });
  }

  /** Marks the occurrence done if this holder still has it. */
  async release(lease: ExecutionLease): Promise<void> {
    const key = this.#leaseKey(lease.jobId, lease.scheduledAt);
    const { kv } = this.#o;
    const retention = this.#o.lease.completedRetentionMs;
    await this.#o.guarded("release", lease.jobId, async () => {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const entry = await kv.get<unknown>(key);
        if (entry.value === null) return;
        const record = readLeaseRecord(entry.value, lease.jobId, key);
        // Past its deadline but not taken over, the lease is still ours:
        // the run did complete, so the occurrence is done.
        if (record.status !== "held" || record.token !== lease.token) return;
        const operation = markDone(kv.atomic().check(entry), {
          key,
          held: record,
          retentionMs: retention,
        });
        if ((await operation.commit()).ok) return;
      }
    });
  }

  #heldBy(value: unknown, lease: ExecutionLease, now: number): boolean {
    if (value === null) return false;
    const key = this.#leaseKey(lease.jobId, lease.scheduledAt);
    const record = readLeaseRecord(value, lease.jobId, key);
    return record.status === "held" && record.token === lease.token &&
      record.deadline > now;
  }

  #leaseKey(jobId: string, scheduledAt: Date): Deno.KvKey {
    return [...this.#o.prefix, "lease", jobId, scheduledAt.getTime()];
  }
}
