/**
 * A state store that keeps working while its primary is down.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { StoreErrorKind, StoreOperation } from "../constants.ts";
import { describeThrown, isInstance, StoreError } from "../errors.ts";
import { GuardedEventTarget } from "../guard/guarded_event_target.ts";
import { copyJobState, type JobState, jobStateProblem } from "./job_state.ts";
import { StoreMirror } from "./_mirror.ts";
import { resolveResilience } from "./_resilient_options.ts";
import { createOnStore } from "./_create_on_store.ts";
import {
  canCreateIfAbsent,
  type CreateIfAbsentStateStore,
  type StateStore,
  type StoreEventDetail,
} from "./state_store.ts";
import { requireSavableState, requireStoreJobId } from "./_store_input.ts";

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
 *   never on every call. When it answers, every state changed during the
 *   outage is written back (last writer wins, as for any store) and
 *   `store-recovered` is dispatched.
 *
 * A job whose first load already hit the outage starts from a new state, and
 * that state is what is written back on recovery. A state the primary
 * refuses on write-back for another reason than connectivity (too large,
 * corrupt) is reported to that job's next call, never to another job's.
 * A primary that answers but refuses our credentials (a `StoreError` of kind
 * `auth`, e.g. a rotated password) is never masked: every call fails with
 * that error until a probe gets through, and nothing is dropped from the
 * write-back. `close()` makes a last write-back attempt.
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
  implements CreateIfAbsentStateStore {
  readonly #primary: StateStore;
  readonly #isConnectionError: (error: unknown) => boolean;
  readonly #probeIntervalMs: number;
  readonly #mirror = new StoreMirror();
  #degraded = false;
  #lastProbeAt = 0;
  /**
   * Why the last probe failed when it was not connectivity (the primary
   * answered but refused us, e.g. `WRONGPASS`): thrown by every call until a
   * probe succeeds, so that no call reports a success the primary refused.
   */
  #probeFailure: unknown = undefined;
  #queue: Promise<unknown> = Promise.resolve();

  static {
    enterDegraded = (store, error) => {
      if (store.#degraded) return;
      store.#degraded = true;
      store.#lastProbeAt = Date.now();
      store.#unreportedOutage = error;
    };
  }
  /** An outage found at start-up, reported on the first call (when a
   * scheduler is listening). */
  #unreportedOutage: string | undefined;

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
    this.#isConnectionError = resilience.isConnectionError;
    this.#probeIntervalMs = resilience.probeIntervalMs;
  }

  /** Whether calls are currently served from the mirror. */
  get degraded(): boolean {
    return this.#degraded;
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
    requireSavableState(state);
    const copy = copyJobState(state);
    return this.#serialized(() =>
      this.#call(
        StoreOperation.Save,
        copy.jobId,
        async () => {
          await this.#primary.save(copyJobState(copy));
          this.#mirror.save(copy);
        },
        () => {
          this.#mirror.save(copy);
          this.#mirror.markDirty(copy.jobId);
        },
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
    requireSavableState(state);
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
          this.#mirror.set(copy.jobId, copy);
          this.#mirror.markDirty(copy.jobId);
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
        () => {
          this.#mirror.set(jobId, null);
          this.#mirror.markDirty(jobId);
        },
      )
    );
  }

  /**
   * Waits for pending calls, then closes the primary if it has a `close()`.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * await new ResilientStateStore(new InMemoryStateStore()).close();
   * ```
   */
  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    if (this.#mirror.dirty) {
      // A last try, whatever the probe interval: what is still dirty after
      // it is lost with the process.
      await this.#serialized(() => this.#writeBack()).catch(() => {});
    }
    const closable = this.#primary as { close?: () => unknown };
    if (typeof closable.close === "function") await closable.close();
  }

  /** Runs calls one at a time, so the mirror always matches call order. */
  #serialized<T>(call: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(call);
    this.#queue = result.catch(() => {});
    return result;
  }

  async #call<T>(
    operation: StoreOperation,
    jobId: string,
    onPrimary: () => Promise<T>,
    onMirror: () => T,
  ): Promise<T> {
    if (this.#degraded) {
      if (this.#unreportedOutage !== undefined) {
        const error = this.#unreportedOutage;
        this.#unreportedOutage = undefined;
        this.#dispatch({
          type: "store-degraded",
          operation,
          error,
          // startDegraded: the primary could not be reached at start-up.
          errorKind: StoreErrorKind.Connection,
          jobId,
        });
      }
      if (Date.now() - this.#lastProbeAt < this.#probeIntervalMs) {
        if (this.#probeFailure !== undefined) throw this.#probeFailure;
        return onMirror();
      }
      this.#lastProbeAt = Date.now();
      try {
        await this.#writeBack();
      } catch (error) {
        if (this.#isConnectionError(error)) {
          this.#probeFailure = undefined;
          return onMirror();
        }
        this.#probeFailure = error;
        throw error;
      }
      this.#probeFailure = undefined;
      this.#degraded = false;
      this.#dispatch({ type: "store-recovered", operation, jobId });
    }
    this.#mirror.throwRefusedWriteBack(jobId);
    try {
      return await onPrimary();
    } catch (error) {
      if (!this.#isConnectionError(error)) throw error;
      this.#degraded = true;
      this.#lastProbeAt = Date.now();
      this.#dispatch({
        type: "store-degraded",
        operation,
        error: describeThrown(error),
        errorKind: isInstance(error, StoreError)
          ? error.kind
          : StoreErrorKind.Unknown,
        jobId,
      });
      return onMirror();
    }
  }

  #writeBack(): Promise<void> {
    return this.#mirror.writeBack(this.#primary, this.#isConnectionError);
  }

  #dispatch(detail: StoreEventDetail): void {
    this.dispatchEvent(new CustomEvent(detail.type, { detail }));
  }
}
