/**
 * A state store that keeps working while its primary is down.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { StoreErrorKind, StoreOperation } from "../constants.ts";
import { StoreError } from "../errors.ts";
import { GuardedEventTarget } from "../guard/guarded_event_target.ts";
import type { ExecutionGuard } from "../guard/execution_guard.ts";
import { copyJobState, type JobState, jobStateProblem } from "./job_state.ts";
import { StoreMirror } from "./_mirror.ts";
import { resolveResilience } from "./_resilient_options.ts";
import { createOnStore } from "./_create_on_store.ts";
import { OutageGate } from "./_outage_gate.ts";
import {
  canWriteLeased,
  type LeasedAcquire,
  type LeasedStateWrites,
  type SaveAndAcquire,
  type SaveAndEnd,
} from "./leased_writes.ts";
import { ResilientLeasedWrites } from "./_resilient_leased.ts";
import {
  canCreateIfAbsent,
  type CreateIfAbsentStateStore,
  type StateStore,
} from "./state_store.ts";
import { requireSavableInMemory, requireStoreJobId } from "./_store_input.ts";

let enterDegraded: (store: ResilientStateStore, error: string) => void;

/**
 * Starts a store degraded, for a primary that could not be reached at
 * start-up: calls are served from the mirror until a probe succeeds.
 */
export function startDegraded(store: ResilientStateStore, error: string): void {
  enterDegraded(store, error);
}

/**
 * Options of {@linkcode ResilientStateStore}.
 *
 * @example
 * ```ts
 * import {
 *   InMemoryStateStore,
 *   ResilientStateStore,
 *   type ResilientStateStoreOptions,
 * } from "@cloudiful/scheduler";
 * const options: ResilientStateStoreOptions = { probeIntervalMs: 10_000 };
 * const store = new ResilientStateStore(new InMemoryStateStore(), options);
 * console.log(store.degraded); // false
 * await store.close();
 * ```
 */
export interface ResilientStateStoreOptions {
  /**
   * Which primary failures mean "the backend cannot be reached" and are
   * masked. Default: a {@linkcode StoreError} of kind `connection`.
   */
  isConnectionError?(error: unknown): boolean;
  /**
   * While degraded, the primary is tried again at most once per this many
   * milliseconds (on the next store call after it has passed).
   *
   * @default {5000}
   */
  probeIntervalMs?: number;
}

/**
 * Wraps a primary store with an in-process mirror that takes over when the
 * primary cannot be reached, and hands back to it when it can again.
 *
 * - The mirror holds the last state read from or written to the primary for
 *   each job id, and every write made during an outage.
 * - On a connection-class error (see `isConnectionError`) the call is served
 *   from the mirror and a `store-degraded` event is dispatched, once per
 *   outage. Data-class and other errors are never masked.
 * - While degraded, the primary is probed at most once per `probeIntervalMs`,
 *   never on every call (a lease's grant or end asks it at once, see
 *   `saveAndAcquire`). When it answers (a write-back with nothing to write
 *   is no answer), every state changed during the outage is written back
 *   (a delete first, then the save after it) and `store-recovered` is
 *   dispatched.
 *
 * A job whose first load already hit the outage starts from a new state, and
 * that state is what is written back on recovery. A state the primary
 * refuses on write-back for another reason than connectivity (too large,
 * corrupt) is reported to that job's next call, never to another job's.
 * A primary that answers but refuses our credentials (a `StoreError` of kind
 * `auth`, e.g. a rotated password) is never masked: every call fails with
 * that error until a probe gets through, and nothing is dropped from the
 * write-back. `close()` makes a last write-back attempt and rejects with a
 * `StoreError` naming the jobs whose states it could not write back.
 *
 * Listen for `store-degraded` and `store-recovered` with
 * `addEventListener` (`event.detail` is a {@linkcode StoreEventDetail}); a
 * listener that throws is logged and does not disturb the store.
 *
 * @example Survive a Valkey or KV outage
 * ```ts
 * import { InMemoryStateStore, ResilientStateStore } from "@cloudiful/scheduler";
 * const store = new ResilientStateStore(new InMemoryStateStore(), {
 *   probeIntervalMs: 10_000,
 * });
 * store.addEventListener("store-degraded", (event) => {
 *   console.warn("state store degraded", (event as CustomEvent).detail);
 * });
 * console.log(store.degraded); // false
 * ```
 */
export class ResilientStateStore extends GuardedEventTarget
  implements CreateIfAbsentStateStore, LeasedStateWrites {
  readonly #primary: StateStore;
  readonly #mirror = new StoreMirror();
  readonly #gate: OutageGate;
  readonly #leased: ResilientLeasedWrites;
  #queue: Promise<unknown> = Promise.resolve();

  static {
    enterDegraded = (store, error) => store.#gate.enterDegraded(error);
  }

  /**
   * Wraps `primary`.
   *
   * @param primary The store to use while it can be reached.
   * @param options How to classify errors and how often to probe.
   * @throws {InvalidJobError} kind `other` for an invalid `probeIntervalMs`
   * or a `primary` that is not a store.
   */
  constructor(primary: StateStore, options: ResilientStateStoreOptions = {}) {
    super();
    const resilience = resolveResilience(primary, options);
    this.#primary = primary;
    this.#gate = new OutageGate({
      primary,
      mirror: this.#mirror,
      isConnectionError: resilience.isConnectionError,
      probeIntervalMs: resilience.probeIntervalMs,
      dispatch: (detail) =>
        this.dispatchEvent(new CustomEvent(detail.type, { detail })),
    });
    this.#leased = new ResilientLeasedWrites({
      primary,
      mirror: this.#mirror,
      gate: this.#gate,
      isConnectionError: resilience.isConnectionError,
      serialized: (call) => this.#serialized(call),
    });
  }

  /** Whether calls are currently served from the mirror. */
  get degraded(): boolean {
    return this.#gate.degraded;
  }

  /**
   * The state of `jobId`: from the primary, or from the mirror while degraded.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * const store = new ResilientStateStore(new InMemoryStateStore());
   * console.log(await store.load("job")); // undefined
   * ```
   */
  // deno-lint-ignore require-await
  async load(jobId: string): Promise<JobState | undefined> {
    requireStoreJobId(jobId);
    return this.#serialized(() =>
      this.#call(
        StoreOperation.Load,
        jobId,
        async () => {
          const state = await this.#primary.load(jobId) ?? undefined;
          const problem = state === undefined
            ? undefined
            : jobStateProblem(state);
          if (problem !== undefined) {
            throw new StoreError(
              `the primary store returned an invalid state for job ${
                JSON.stringify(jobId)
              }: ${problem}`,
              { kind: StoreErrorKind.Data, operation: StoreOperation.Load },
            );
          }
          this.#mirror.set(jobId, state ? copyJobState(state) : null);
          return state;
        },
        () => {
          const state = this.#mirror.get(jobId);
          return state ? copyJobState(state) : undefined;
        },
      )
    );
  }

  /**
   * Saves to the primary, or to the mirror while degraded.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * const store = new ResilientStateStore(new InMemoryStateStore());
   * await store.save({ jobId: "job", triggerCount: 1, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null });
   * ```
   */
  // deno-lint-ignore require-await
  async save(state: JobState): Promise<void> {
    requireSavableInMemory(state); // the mirror's too
    const copy = copyJobState(state);
    return this.#serialized(() =>
      this.#call(
        StoreOperation.Save,
        copy.jobId,
        async () => {
          await this.#primary.save(copyJobState(copy));
          this.#mirror.save(copy);
        },
        () => this.#mirror.saveWhileDown(copy),
      )
    );
  }

  /**
   * Creates a job's first state unless one exists: atomically when the
   * primary can, else by a load then a save; while degraded, in the mirror.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * const store = new ResilientStateStore(new InMemoryStateStore());
   * const state = { jobId: "job", triggerCount: 0, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null };
   * console.log(await store.createIfAbsent(state)); // undefined
   * ```
   */
  // deno-lint-ignore require-await
  async createIfAbsent(state: JobState): Promise<JobState | undefined> {
    requireSavableInMemory(state); // the mirror's too
    const copy = copyJobState(state);
    const primary = this.#primary;
    return this.#serialized(() =>
      this.#call(
        StoreOperation.Save,
        copy.jobId,
        async () => {
          // A primary without an atomic create gets a plain save when this
          // wrapper has just seen the job absent: no extra round trip.
          const winner = !canCreateIfAbsent(primary) &&
              this.#mirror.get(copy.jobId) === null
            ? await primary.save(copyJobState(copy)).then(() => undefined)
            : await createOnStore(primary, copyJobState(copy));
          this.#mirror.set(copy.jobId, copyJobState(winner ?? copy));
          return winner;
        },
        () => {
          const known = this.#mirror.get(copy.jobId);
          if (known) return copyJobState(known);
          this.#mirror.markDirty(copy.jobId); // first: what the primary held
          this.#mirror.set(copy.jobId, copy);
          return undefined;
        },
      )
    );
  }

  /**
   * Deletes from the primary, or from the mirror while degraded.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * await new ResilientStateStore(new InMemoryStateStore()).delete("job");
   * ```
   */
  // deno-lint-ignore require-await
  async delete(jobId: string): Promise<void> {
    requireStoreJobId(jobId);
    return this.#serialized(() =>
      this.#call(
        StoreOperation.Delete,
        jobId,
        async () => {
          await this.#primary.delete(jobId);
          this.#mirror.set(jobId, null);
        },
        () => this.#mirror.delete(jobId),
      )
    );
  }

  /**
   * Whether the primary writes `guard`'s leases with its states
   * (`LeasedStateWrites`, docs/stores.md): the wrapper then passes that
   * single write before and after a run through.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard, DenoKvStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * console.log(new ResilientStateStore(new DenoKvStateStore(kv)).sharesWith(guard)); // true
   * kv.close();
   * ```
   */
  sharesWith(guard: ExecutionGuard): boolean {
    return canWriteLeased(this.#primary, guard);
  }

  /**
   * The primary's `saveAndAcquire`, the saved state then mirrored as a save
   * mirrors it. While the primary cannot be reached (asked even while
   * degraded, as the guard would be), nothing is saved or granted and it
   * rejects with an `ExecutionGuardError` kind `connection`, the guard's
   * outage, after `store-degraded`.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard, DenoKvStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const store = new ResilientStateStore(new DenoKvStateStore(kv));
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * const state = { jobId: "a", triggerCount: 1, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null };
   * const slot = { jobId: "a", scheduledAt: new Date(0) };
   * console.log((await store.saveAndAcquire({ guard, state, slot, record: false })).kind); // acquired
   * kv.close();
   * ```
   */
  saveAndAcquire(request: SaveAndAcquire): Promise<LeasedAcquire> {
    return this.#leased.saveAndAcquire(request);
  }

  /**
   * The primary's `saveAndEnd`, the saved state then mirrored as a save
   * mirrors it. While the primary cannot be reached the state is saved in
   * the mirror as a save is (written back on recovery) and it rejects with
   * an `ExecutionGuardError` kind `connection`: saved, the lease's end not
   * confirmed (reported as a failed release; the lease runs out).
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard, DenoKvStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const store = new ResilientStateStore(new DenoKvStateStore(kv));
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * const state = { jobId: "a", triggerCount: 1, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null };
   * const answer = await store.saveAndAcquire({ guard, state, slot: { jobId: "a", scheduledAt: new Date(0) }, record: false });
   * if (answer.kind === "acquired") await store.saveAndEnd({ guard, state, lease: answer.lease, end: "release" });
   * kv.close();
   * ```
   */
  saveAndEnd(request: SaveAndEnd): Promise<void> {
    return this.#leased.saveAndEnd(request);
  }

  /**
   * Waits for pending calls, makes a last write-back (`store-recovered` when
   * it ends an outage), then closes the primary if it has a `close()`.
   *
   * @throws {StoreError} after closing, naming each job whose state the
   * primary does not hold (still down, or refused), with the failure's kind.
   * @example
   * ```ts
   * import { InMemoryStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * await new ResilientStateStore(new InMemoryStateStore()).close();
   * ```
   */
  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    // The primary is closed whatever is left unwritten; that is reported.
    const last = this.#serialized(() => this.#gate.lastWriteBack());
    const lost = await last.then(() => undefined, (error) => ({ error }));
    const closable = this.#primary as { close?: () => unknown };
    if (typeof closable.close === "function") await closable.close();
    if (lost) throw lost.error;
  }

  /** Runs calls one at a time, so the mirror always matches call order. */
  #serialized<T>(call: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(call);
    this.#queue = result.catch(() => {});
    return result;
  }

  #call<T>(
    operation: StoreOperation,
    jobId: string,
    onPrimary: () => Promise<T>,
    onMirror: () => T,
  ): Promise<T> {
    return this.#gate.call({ operation, jobId, onPrimary, onMirror });
  }
}
