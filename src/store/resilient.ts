/**
 * A state store that keeps working while its primary is down.
 *
 * Runtime-neutral.
 *
 * @module
 */

import {
  InvalidJobKind,
  StoreErrorKind,
  StoreOperation,
} from "../constants.ts";
import {
  describeThrown,
  describeValue,
  InvalidJobError,
  StoreError,
} from "../errors.ts";
import { GuardedListeners } from "../_guarded_listeners.ts";
import { copyJobState, type JobState, jobStateProblem } from "./job_state.ts";
import type { StateStore, StoreEventDetail } from "./state_store.ts";

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

function isConnectionStoreError(error: unknown): boolean {
  return error instanceof StoreError &&
    error.kind === StoreErrorKind.Connection;
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
 * `close()` makes a last write-back attempt.
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
export class ResilientStateStore extends EventTarget implements StateStore {
  readonly #primary: StateStore;
  readonly #isConnectionError: (error: unknown) => boolean;
  readonly #probeIntervalMs: number;
  /** Last known state per job id; `null` = known to be absent. */
  readonly #mirror = new Map<string, JobState | null>();
  /** Job ids whose mirror entry changed while degraded. */
  readonly #dirty = new Set<string>();
  /**
   * Write-backs the primary refused for a reason other than connectivity
   * (a value too large, corrupt data): reported to that job's next call,
   * never to another job's, and never retried forever.
   */
  readonly #refusedWriteBacks = new Map<string, unknown>();
  #degraded = false;
  #lastProbeAt = 0;
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
  readonly #listeners = new GuardedListeners(
    this,
    (type, listener, options) =>
      super.addEventListener(type, listener, options),
    (type, listener, options) =>
      super.removeEventListener(type, listener, options),
  );

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
    if (
      typeof primary?.load !== "function" ||
      typeof primary?.save !== "function" ||
      typeof primary?.delete !== "function"
    ) {
      throw new InvalidJobError(
        "ResilientStateStore needs a primary store with load, save and delete",
        { kind: InvalidJobKind.Other },
      );
    }
    if (typeof options !== "object" || options === null) {
      throw new InvalidJobError(
        `ResilientStateStore options must be an object, got ${
          describeValue(options)
        }`,
        { kind: InvalidJobKind.Other },
      );
    }
    const probe = options.probeIntervalMs === undefined
      ? 5000
      : options.probeIntervalMs;
    if (typeof probe !== "number" || !Number.isFinite(probe) || probe < 0) {
      throw new InvalidJobError(
        `probeIntervalMs must be a finite number of milliseconds >= 0, got ${
          describeValue(probe)
        }`,
        { kind: InvalidJobKind.Other },
      );
    }
    this.#primary = primary;
    this.#isConnectionError = options.isConnectionError ??
      isConnectionStoreError;
    this.#probeIntervalMs = probe;
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
  load(jobId: string): Promise<JobState | undefined> {
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
  save(state: JobState): Promise<void> {
    const copy = copyJobState(state);
    return this.#serialized(() =>
      this.#call(
        StoreOperation.Save,
        copy.jobId,
        async () => {
          await this.#primary.save(copyJobState(copy));
          this.#mirror.set(copy.jobId, copy);
        },
        () => {
          this.#mirror.set(copy.jobId, copy);
          this.#dirty.add(copy.jobId);
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
  delete(jobId: string): Promise<void> {
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
          this.#dirty.add(jobId);
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
    if (this.#dirty.size > 0) {
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
        this.#dispatch({ type: "store-degraded", operation, error, jobId });
      }
      if (Date.now() - this.#lastProbeAt < this.#probeIntervalMs) {
        return onMirror();
      }
      this.#lastProbeAt = Date.now();
      try {
        await this.#writeBack();
      } catch (error) {
        if (this.#isConnectionError(error)) return onMirror();
        throw error;
      }
      this.#degraded = false;
      this.#dispatch({ type: "store-recovered", operation, jobId });
    }
    this.#throwRefusedWriteBack(jobId);
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
        jobId,
      });
      return onMirror();
    }
  }

  /**
   * Writes every state changed during the outage to the primary. A
   * connection-class error stops it (the primary is still down, the rest
   * stays dirty); any other error concerns that one job's state and is kept
   * for that job's next call while the others are written.
   */
  async #writeBack(): Promise<void> {
    for (const jobId of [...this.#dirty]) {
      const state = this.#mirror.get(jobId) ?? null;
      try {
        if (state === null) await this.#primary.delete(jobId);
        else await this.#primary.save(copyJobState(state));
      } catch (error) {
        if (this.#isConnectionError(error)) throw error;
        this.#refusedWriteBacks.set(jobId, error);
      }
      this.#dirty.delete(jobId);
    }
  }

  #throwRefusedWriteBack(jobId: string): void {
    if (!this.#refusedWriteBacks.has(jobId)) return;
    const error = this.#refusedWriteBacks.get(jobId);
    this.#refusedWriteBacks.delete(jobId);
    throw error;
  }

  /**
   * Listens for `store-degraded` and `store-recovered`; `event.detail` is a
   * {@linkcode StoreEventDetail}. A listener that throws is logged and does
   * not disturb the store.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * const store = new ResilientStateStore(new InMemoryStateStore());
   * store.addEventListener("store-recovered", () => console.info("back"));
   * ```
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    this.#listeners.add(type, listener, options);
  }

  /**
   * Removes a listener added with {@linkcode ResilientStateStore.addEventListener}.
   *
   * @example
   * ```ts
   * import { InMemoryStateStore, ResilientStateStore } from "@cloudiful/scheduler";
   * const store = new ResilientStateStore(new InMemoryStateStore());
   * const listener = () => {};
   * store.addEventListener("store-degraded", listener);
   * store.removeEventListener("store-degraded", listener);
   * ```
   */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    this.#listeners.remove(type, listener, options);
  }

  #dispatch(detail: StoreEventDetail): void {
    this.dispatchEvent(new CustomEvent(detail.type, { detail }));
  }
}
