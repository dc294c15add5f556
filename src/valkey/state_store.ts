/**
 * A state store on Valkey (or Redis), compatible with the Rust crate's keys
 * and values, so a Rust and a TypeScript service can share one server.
 *
 * @module
 */

import { StoreOperation } from "../constants.ts";
import { describeThrown } from "../errors.ts";
import type { JobState } from "../store/job_state.ts";
import {
  requireSavableState,
  requireStoreJobId,
} from "../store/_store_input.ts";
import { decodeJobState, encodeJobState } from "../store/_json_codec.ts";
import { ResilientStateStore, startDegraded } from "../store/resilient.ts";
import type { CreateIfAbsentStateStore } from "../store/state_store.ts";
import { resolveRetryBudget } from "../_retry.ts";
import {
  createIfAbsent,
  type KnownTexts,
  type MergedSave,
  saveMerged,
} from "./_state_writes.ts";
import {
  checkScriptPermissions,
  closeClient,
  connectClient,
  createClient,
  isConnectionError,
  retryConnection,
  validatePrefix,
  validateUrl,
  type ValkeyClient,
} from "./_client.ts";
import { checkOptions } from "../_options.ts";
import { redact, toValkeyStoreError } from "./_store_errors.ts";

/** The default prefix of state keys. */
export const DEFAULT_STATE_PREFIX = "scheduler:valkey:job-state:";
/** Where the Rust crate's earlier versions kept states (read-only fallback). */
export const LEGACY_STATE_PREFIX = "scheduler:job-state:";

/**
 * Options of {@linkcode ValkeyStateStore.connect}.
 *
 * @example
 * ```ts
 * import type { ValkeyStateStoreOptions } from "@cloudiful/scheduler/valkey";
 * // For ValkeyStateStore.connect(url, options).
 * const options: ValkeyStateStoreOptions = { keyPrefix: "my-app:job-state:" };
 * ```
 */
export interface ValkeyStateStoreOptions {
  /**
   * Keys are `<keyPrefix><jobId>`.
   *
   * @default {"scheduler:valkey:job-state:"}
   */
  keyPrefix?: string;
  /**
   * How long a call retries connection-class failures (refused, reset,
   * timeout, closed, `LOADING`...) with a capped exponential back-off before
   * it fails with kind `connection`; 0 fails at once. A call settles within
   * this budget or the client's 5 s command timeout, whichever is longer.
   *
   * @default {10000}
   */
  retryBudgetMs?: number;
}

/**
 * Options of {@linkcode ValkeyStateStore.resilient}.
 *
 * @example
 * ```ts
 * import type { ValkeyResilientOptions } from "@cloudiful/scheduler/valkey";
 * // For ValkeyStateStore.resilient(url, options).
 * const options: ValkeyResilientOptions = { probeIntervalMs: 10_000 };
 * ```
 */
export interface ValkeyResilientOptions extends ValkeyStateStoreOptions {
  /**
   * How long the wrapped store retries a connection-class failure before
   * the wrapper serves from its mirror. 0 (the default) degrades at once, so
   * no call waits on the server.
   *
   * @default {0}
   */
  retryBudgetMs?: number;
  /**
   * While degraded, the server is tried again at most once per this many ms.
   *
   * @default {5000}
   */
  probeIntervalMs?: number;
}

/**
 * Persists job states in Valkey: key `<prefix><jobId>`, value the Rust
 * crate's JSON. With the default prefix, a missing state is also looked up
 * under the legacy `scheduler:job-state:<jobId>`, and `delete` removes both.
 *
 * Several instances may share a state: a job's first state is created with
 * `SET NX` ({@linkcode ValkeyStateStore.createIfAbsent}), and `save` merges
 * over the stored value (the furthest cursor, the latest instants) and
 * writes with a compare-and-set script, so a stale writer never moves the
 * stored state back. The value stays the Rust crate's JSON.
 *
 * Connection-class failures (refused, reset, timeout, closed, `LOADING`,
 * `BUSY`, `MASTERDOWN`, `CLUSTERDOWN`, `TRYAGAIN`) are kind `connection`, a
 * value that does not decode is kind `data`, anything else `unknown`.
 * Connection-class failures are retried for `retryBudgetMs` (default 10 s)
 * while the client reconnects in the background, so a short restart goes
 * unnoticed; data-class failures are never retried. To keep scheduling
 * through a longer outage, use {@linkcode ValkeyStateStore.resilient}.
 *
 * @example
 * ```ts ignore
 * import { ValkeyStateStore } from "@cloudiful/scheduler/valkey";
 * import { Job, Schedule, Scheduler, Task } from "@cloudiful/scheduler";
 * const store = await ValkeyStateStore.connect("redis://127.0.0.1:6379");
 * try {
 *   const job = Job.withoutDeps("sync", Schedule.cron("*\/5 * * * *"), Task.fromSync(() => {}));
 *   await new Scheduler({}, store).run(job, { signal: AbortSignal.timeout(60_000) });
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export class ValkeyStateStore implements CreateIfAbsentStateStore {
  readonly #client: ValkeyClient;
  readonly #prefix: string;
  #retryBudgetMs = 0;
  /** The last text seen per key, so that a merged save is one command. */
  readonly #known: KnownTexts = new Map();

  private constructor(client: ValkeyClient, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  /**
   * Connects to `url`.
   *
   * @throws {StoreError} kind `connection` when the server cannot be reached.
   * @throws {InvalidJobError} kind `other` for a bad URL or prefix.
   *
   * @example
   * ```ts ignore
   * import { ValkeyStateStore } from "@cloudiful/scheduler/valkey";
   * const store = await ValkeyStateStore.connect("redis://127.0.0.1:6379", {
   *   keyPrefix: "my-app:job-state:",
   * });
   * await store.close();
   * ```
   */
  static async connect(
    url: string,
    options: ValkeyStateStoreOptions = {},
  ): Promise<ValkeyStateStore> {
    const store = ValkeyStateStore.#create(
      url,
      options,
      "ValkeyStateStore.connect",
    );
    try {
      await connectClient(store.#client);
      await checkScriptPermissions(store.#client);
    } catch (cause) {
      await closeClient(store.#client);
      throw toValkeyStoreError(cause, {
        operation: undefined,
        subject: redact(url),
      });
    }
    return store;
  }

  /**
   * A {@linkcode ResilientStateStore} over a Valkey store. It never fails
   * because the server is down at start-up: it starts degraded (serving from
   * its in-process mirror) and recovers when the server answers.
   *
   * @throws {InvalidJobError} kind `other` for a bad URL, prefix or
   * `probeIntervalMs`.
   *
   * @example
   * ```ts ignore
   * import { ValkeyStateStore } from "@cloudiful/scheduler/valkey";
   * const store = await ValkeyStateStore.resilient("redis://127.0.0.1:6379", {
   *   probeIntervalMs: 10_000,
   * });
   * console.log(store.degraded);
   * await store.close();
   * ```
   */
  static async resilient(
    url: string,
    options: ValkeyResilientOptions = {},
  ): Promise<ResilientStateStore> {
    const store = ValkeyStateStore.#create(
      url,
      options,
      "ValkeyStateStore.resilient",
    );
    // The mirror takes over at once unless asked to wait for the server.
    if (options.retryBudgetMs === undefined) store.#retryBudgetMs = 0;
    let resilient: ResilientStateStore;
    try {
      resilient = new ResilientStateStore(store, {
        probeIntervalMs: options.probeIntervalMs,
      });
    } catch (error) {
      await store.close();
      throw error;
    }
    try {
      await connectClient(store.#client);
      await checkScriptPermissions(store.#client);
    } catch (cause) {
      if (!isConnectionError(cause)) {
        // Wrong credentials and the like: no reconnection will cure them.
        await store.close();
        throw toValkeyStoreError(cause, {
          operation: undefined,
          subject: redact(url),
        });
      }
      // The client keeps reconnecting in the background; until it does,
      // the wrapper serves from its mirror.
      startDegraded(resilient, describeThrown(cause));
    }
    return resilient;
  }

  static #create(
    url: string,
    options: ValkeyStateStoreOptions,
    what: string,
  ): ValkeyStateStore {
    validateUrl(url, what);
    checkOptions(options, {
      what: `${what} options`,
      known: what.endsWith("resilient")
        ? ["keyPrefix", "retryBudgetMs", "probeIntervalMs"]
        : ["keyPrefix", "retryBudgetMs"],
    });
    const prefix = validatePrefix(
      options.keyPrefix === undefined
        ? DEFAULT_STATE_PREFIX
        : options.keyPrefix,
      what,
    );
    const retryBudgetMs = resolveRetryBudget(options.retryBudgetMs, what);
    const store = new ValkeyStateStore(createClient(url), prefix);
    store.#retryBudgetMs = retryBudgetMs;
    return store;
  }

  /**
   * The state of `jobId`, or `undefined`.
   *
   * @example
   * ```ts ignore
   * const state = await store.load("sync");
   * ```
   */
  async load(jobId: string): Promise<JobState | undefined> {
    requireStoreJobId(jobId);
    let text: string | null;
    try {
      text = await this.#retry(() => this.#client.get(this.#prefix + jobId));
      this.#known.set(this.#prefix + jobId, text);
      if (text === null && this.#prefix === DEFAULT_STATE_PREFIX) {
        text = await this.#retry(() =>
          this.#client.get(LEGACY_STATE_PREFIX + jobId)
        );
      }
    } catch (cause) {
      throw toValkeyStoreError(cause, {
        operation: StoreOperation.Load,
        subject: `job ${JSON.stringify(jobId)}`,
        client: this.#client,
      });
    }
    return text === null ? undefined : decodeJobState(text, jobId);
  }

  /**
   * Stores `state` under `<prefix><jobId>`.
   *
   * @example
   * ```ts ignore
   * await store.save(state);
   * ```
   */
  // deno-lint-ignore require-await
  async save(state: JobState): Promise<void> {
    requireSavableState(state);
    encodeJobState(state); // an unstorable state fails before any command
    return this.#write(state, saveMerged);
  }

  /**
   * Stores `state` only if no state of its job is stored (`SET NX`);
   * resolves `undefined` when stored, or the state already there. The
   * scheduler uses it for a job's first state, so that instances starting
   * together share one.
   *
   * @example
   * ```ts ignore
   * const existing = await store.createIfAbsent(state);
   * ```
   */
  // deno-lint-ignore require-await
  async createIfAbsent(state: JobState): Promise<JobState | undefined> {
    requireSavableState(state);
    return this.#write(state, createIfAbsent);
  }

  /**
   * Runs one of the race-free writes for `state`'s key. Both are safe to
   * retry: a merged save applied twice is applied once, and a create that
   * did land answers with the state it stored.
   */
  async #write<T>(
    state: JobState,
    write: (client: ValkeyClient, target: MergedSave) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.#retry(() =>
        write(this.#client, {
          key: this.#prefix + state.jobId,
          state,
          known: this.#known,
        })
      );
    } catch (cause) {
      throw toValkeyStoreError(cause, {
        operation: StoreOperation.Save,
        subject: `job ${JSON.stringify(state.jobId)}`,
        client: this.#client,
      });
    }
  }

  /**
   * Removes the state of `jobId` (and its legacy key with the default prefix).
   *
   * @example
   * ```ts ignore
   * await store.delete("sync");
   * ```
   */
  async delete(jobId: string): Promise<void> {
    requireStoreJobId(jobId);
    const keys = [this.#prefix + jobId];
    this.#known.delete(keys[0]);
    if (this.#prefix === DEFAULT_STATE_PREFIX) {
      keys.push(LEGACY_STATE_PREFIX + jobId);
    }
    try {
      await this.#retry(() => this.#client.del(...keys));
    } catch (cause) {
      throw toValkeyStoreError(cause, {
        operation: StoreOperation.Delete,
        subject: `job ${JSON.stringify(jobId)}`,
        client: this.#client,
      });
    }
  }

  /**
   * Ends the connection, so that the process can exit.
   *
   * @example
   * ```ts ignore
   * await store.close();
   * ```
   */
  close(): Promise<void> {
    return closeClient(this.#client);
  }

  /** The single point where client calls meet the retry budget. */
  #retry<T>(call: () => Promise<T>): Promise<T> {
    return retryConnection(call, {
      client: this.#client,
      budgetMs: this.#retryBudgetMs,
    });
  }
}
