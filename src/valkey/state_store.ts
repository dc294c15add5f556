/**
 * A state store on Valkey (or Redis), compatible with the Rust crate's keys
 * and values, so a Rust and a TypeScript service can share one server.
 *
 * @module
 */

import { StoreOperation } from "../constants.ts";
import type { ExecutionGuard } from "../guard/execution_guard.ts";
import type {
  LeasedAcquire,
  LeasedStateWrites,
  SaveAndAcquire,
  SaveAndEnd,
} from "../store/leased_writes.ts";
import { LeasedCounts } from "./_leased_counts.ts";
import {
  leasedGuardOn,
  type LeasingStore,
  saveAndAcquire,
  saveAndEnd,
} from "./_leased_writes.ts";
import type { JobState } from "../store/job_state.ts";
import {
  requireSavableState,
  requireStoreJobId,
} from "../store/_store_input.ts";
import { decodeJobState, encodeJobState } from "../store/_json_codec.ts";
import type { CreateIfAbsentStateStore } from "../store/state_store.ts";
import type { ValkeyClient } from "./_open_client.ts";
import {
  createIfAbsent,
  type KnownTexts,
  type MergedSave,
  saveMerged,
} from "./_state_writes.ts";
import { toValkeyStoreError } from "./_store_errors.ts";
import type { ValkeyLink } from "./_link.ts";
import {
  connectStoreLink,
  openResilient,
  openStoreLink,
} from "./_open_store.ts";
import type { ResilientStateStore } from "../store/resilient.ts";
import type { ValkeyConnection, ValkeyKeyLayout } from "./connection.ts";
import type {
  ValkeyResilientOptions,
  ValkeyStateStoreOptions,
} from "./state_store_options.ts";
import { InvalidJobError, isInstance, type StoreError } from "../errors.ts";

/**
 * Persists job states in Valkey: key `<prefix><jobId>` (layout `"rust"`)
 * or `<prefix>{<jobId>}` (layout `"cluster"`), value the Rust crate's JSON.
 * With the default prefix and the `"rust"` layout, a missing state is also
 * looked up under the legacy `scheduler:job-state:<jobId>`, and `delete`
 * removes both.
 *
 * It connects to one server by URL, to a primary through Sentinel, to a
 * Cluster, or uses a client the user built ({@linkcode ValkeyConnection};
 * see `docs/valkey.md`).
 *
 * Several instances may share a state: a job's first state is created with
 * `SET NX` ({@linkcode ValkeyStateStore.createIfAbsent}), and `save` merges
 * over the stored value (the furthest cursor, the latest instants) and
 * writes with a compare-and-set script, so a stale writer never moves the
 * stored state back. The value stays the Rust crate's JSON.
 *
 * Connection-class failures (refused, reset, timeout, closed, `LOADING`,
 * `BUSY`, `MASTERDOWN`, `CLUSTERDOWN`, `TRYAGAIN`, `READONLY`,
 * `NOREPLICAS`, a failover in progress) are kind `connection`, refused
 * credentials kind `auth`, a value that does not decode kind `data`,
 * anything else `unknown`. Connection-class failures are retried for
 * `retryBudgetMs` (default 10 s) while the client reconnects in the
 * background, so a short restart or a failover goes unnoticed; data-class
 * failures are never retried. To keep scheduling through a longer outage,
 * use {@linkcode ValkeyStateStore.resilient}.
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
export class ValkeyStateStore
  implements CreateIfAbsentStateStore, LeasedStateWrites {
  readonly #link: ValkeyLink;
  #retryBudgetMs = 0;
  /** The last text seen per key, so that a merged save is one command. */
  readonly #known: KnownTexts = new Map();
  /** What the leased writes need of the store (`_leased_writes.ts`). */
  readonly #leasing: LeasingStore;

  private constructor(link: ValkeyLink) {
    this.#link = link;
    this.#leasing = {
      link,
      known: this.#known,
      counts: new LeasedCounts(),
      stateKey: (jobId) => this.stateKey(jobId),
      read: (key) => this.#retry((client) => client.get(key)),
    };
  }

  /**
   * Connects to `connection`: a URL, a Sentinel or Cluster configuration,
   * or `{ client }` (a client the user built, which `close()` leaves open).
   *
   * @throws {StoreError} kind `connection` when the server cannot be
   * reached, kind `auth` when it refuses the credentials.
   * @throws {InvalidJobError} kind `other` for a bad connection, prefix or
   * layout, a database index the server lacks, or keys claimed by another
   * layout.
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
    connection: ValkeyConnection,
    options: ValkeyStateStoreOptions = {},
  ): Promise<ValkeyStateStore> {
    const what = "ValkeyStateStore.connect";
    const store = ValkeyStateStore.#create(connection, options, what);
    await connectStoreLink(store.#link);
    return store;
  }

  /**
   * A {@linkcode ResilientStateStore} over a Valkey store. It never fails
   * because the server is down at start-up: it starts degraded (serving from
   * its in-process mirror) and recovers when the server answers. Refused
   * credentials, a database index the server lacks and keys of another
   * layout are not outages: they fail at once.
   *
   * @throws {StoreError} kind `auth` when the server refuses the credentials.
   * @throws {InvalidJobError} kind `other` for a bad connection, prefix,
   * layout or `probeIntervalMs`.
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
    connection: ValkeyConnection,
    options: ValkeyResilientOptions = {},
  ): Promise<ResilientStateStore> {
    const what = "ValkeyStateStore.resilient";
    const store = ValkeyStateStore.#create(connection, options, what);
    // The mirror takes over at once unless asked to wait for the server.
    if (options.retryBudgetMs === undefined) store.#retryBudgetMs = 0;
    return await openResilient(store, store.#link, options);
  }

  static #create(
    connection: ValkeyConnection,
    options: ValkeyStateStoreOptions,
    what: string,
  ): ValkeyStateStore {
    const opened = openStoreLink(connection, options, what);
    const store = new ValkeyStateStore(opened.link);
    store.#retryBudgetMs = opened.retryBudgetMs;
    return store;
  }

  /**
   * The key layout in use (see {@linkcode ValkeyKeyLayout}).
   *
   * @example
   * ```ts ignore
   * console.log(store.keyLayout); // "rust" or "cluster"
   * ```
   */
  get keyLayout(): ValkeyKeyLayout {
    return this.#link.keys.layout;
  }

  /**
   * The key under which `jobId`'s state is stored.
   *
   * @example
   * ```ts ignore
   * store.stateKey("sync"); // "scheduler:valkey:job-state:sync"
   * ```
   */
  stateKey(jobId: string): string {
    requireStoreJobId(jobId);
    return this.#link.keys.state(jobId);
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
    const key = this.stateKey(jobId);
    const legacy = this.#link.keys.legacyState(jobId);
    let text: string | null;
    try {
      text = await this.#retry((client) => client.get(key));
      this.#known.set(key, text);
      if (text === null && legacy !== undefined) {
        text = await this.#retry((client) => client.get(legacy));
      }
    } catch (cause) {
      throw this.#failure(cause, StoreOperation.Load, jobId);
    }
    return text === null ? undefined : decodeJobState(text, jobId);
  }

  /**
   * Stores `state` under its job's key, merged over what is stored.
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
    const key = this.stateKey(state.jobId);
    try {
      return await this.#retry((client) =>
        write(client, { key, state, known: this.#known })
      );
    } catch (cause) {
      throw this.#failure(cause, StoreOperation.Save, state.jobId);
    }
  }

  /**
   * Whether `guard` is a {@linkcode ValkeyExecutionGuard} on this store's
   * deployment (the same URL, Sentinel or Cluster configuration, or
   * client) with the same key layout. A scheduler with both then saves the
   * state with each grant and with each lease's end, one script each: two
   * round trips per run (docs/valkey.md, "Two round trips per run").
   *
   * @example
   * ```ts ignore
   * const guard = await ValkeyExecutionGuard.connect(url, { ttlMs: 30_000, renewIntervalMs: 10_000 });
   * console.log(store.sharesWith(guard)); // true: `url` is the store's too
   * ```
   */
  sharesWith(guard: ExecutionGuard): boolean {
    return leasedGuardOn(this.#link, guard) !== undefined;
  }

  /**
   * Saves `request.state` (merged, as `save` does) and takes the slot's
   * lease of `request.guard` (and its in-flight record when
   * `request.record`) in one script (see {@linkcode sharesWith}).
   *
   * @example
   * ```ts ignore
   * const answer = await store.saveAndAcquire({ guard, state, slot, record: false });
   * ```
   */
  saveAndAcquire(request: SaveAndAcquire): Promise<LeasedAcquire> {
    return saveAndAcquire(this.#leasing, request);
  }

  /**
   * Saves `request.state` (merged, as `save` does) and ends `request.lease`
   * as `request.end` says, in one script (see {@linkcode sharesWith}).
   *
   * @example
   * ```ts ignore
   * await store.saveAndEnd({ guard, state, lease, end: "complete" });
   * ```
   */
  saveAndEnd(request: SaveAndEnd): Promise<void> {
    return saveAndEnd(this.#leasing, request);
  }

  /**
   * Removes the state of `jobId` (and its legacy key with the default
   * prefix and the `"rust"` layout).
   *
   * @example
   * ```ts ignore
   * await store.delete("sync");
   * ```
   */
  async delete(jobId: string): Promise<void> {
    const key = this.stateKey(jobId);
    const legacy = this.#link.keys.legacyState(jobId);
    this.#known.delete(key);
    try {
      // One key per command: on a Cluster the legacy key may live in
      // another slot.
      await this.#retry((client) => client.del(key));
      if (legacy !== undefined) {
        await this.#retry((client) => client.del(legacy));
      }
    } catch (cause) {
      throw this.#failure(cause, StoreOperation.Delete, jobId);
    }
  }

  /**
   * Ends the connection, so that the process can exit. A client the user
   * built stays open.
   *
   * @example
   * ```ts ignore
   * await store.close();
   * ```
   */
  close(): Promise<void> {
    return this.#link.close();
  }

  #failure(
    cause: unknown,
    operation: StoreOperation,
    jobId: string,
  ): StoreError | InvalidJobError {
    if (isInstance(cause, InvalidJobError)) return cause;
    return toValkeyStoreError(cause, {
      operation,
      subject: `job ${JSON.stringify(jobId)}`,
      client: this.#link.client,
    });
  }

  /** The single point where client calls meet the retry budget. */
  #retry<T>(call: (client: ValkeyClient) => Promise<T>): Promise<T> {
    if (this.#link.claimed) return this.#link.retry(this.#retryBudgetMs, call);
    // A resilient store that started while the server was down has not yet
    // checked its permissions and claimed its layout: its first call that
    // reaches the server does, so a mix of layouts is refused then.
    return this.#link.retry(this.#retryBudgetMs, async (client) => {
      await this.#link.connect();
      return await call(client);
    });
  }
}
