/**
 * A state store on Deno KV, the embedded default: no server, one file (or
 * `:memory:`), shared safely by several processes.
 *
 * Needs Deno with `--unstable-kv` (or `"unstable": ["kv"]` in deno.json).
 *
 * @module
 */

import { requireDenoKv } from "./_require_deno.ts";
import type { JobState } from "../store/job_state.ts";
import type { CreateIfAbsentStateStore } from "../store/state_store.ts";
import type {
  LeasedAcquire,
  LeasedStateWrites,
  SaveAndAcquire,
  SaveAndEnd,
} from "../store/leased_writes.ts";
import type { ExecutionGuard } from "../guard/execution_guard.ts";
import { sharedSeed } from "./_guard_link.ts";
import { lazy } from "../_lazy.ts";
import type { KvStore } from "./_kv_store.ts";

/** The store's calls, loaded on the first (ARCHITECTURE.md). */
const calls = lazy(() => import("./_kv_store.ts"));

/**
 * Options of {@linkcode DenoKvStateStore}.
 *
 * @example
 * ```ts
 * import {
 *   DenoKvStateStore,
 *   type DenoKvStateStoreOptions,
 * } from "@cloudiful/scheduler";
 * const options: DenoKvStateStoreOptions = { keyPrefix: ["my-app", "jobs"] };
 * const store = await DenoKvStateStore.open(":memory:", options);
 * store.close();
 * ```
 */
export interface DenoKvStateStoreOptions {
  /**
   * Keys are `[...keyPrefix, jobId]`.
   *
   * @default {["scheduler", "job-state"]}
   */
  keyPrefix?: Deno.KvKey;
  /**
   * How long a call retries connection-class failures other than contention
   * (interrupted, refused, reset, timed out — a remote KV) with a capped
   * exponential back-off before it fails with kind `connection`; 0 fails at
   * once. A closed database is never retried; contention ("database is
   * locked") is retried on its own 30 s budget.
   *
   * @default {10000}
   */
  retryBudgetMs?: number;
}

import { requireKv, storeOptions } from "./_kv_input.ts";
export {
  DEFAULT_STATE_KEY_PREFIX,
  requireKv,
  validateKeyPrefix,
} from "./_kv_input.ts";

/**
 * Persists job states in Deno KV under `[...keyPrefix, jobId]`, as the Rust
 * crate's JSON text, so that the value reads the same from any language.
 *
 * Several processes may share a state: a job's first state is created by a
 * commit checked on the absent key ({@linkcode DenoKvStateStore.createIfAbsent}),
 * and `save` merges over the stored value (the furthest cursor, the latest
 * instants) in a commit checked on its versionstamp, so a stale writer never
 * moves the stored state back.
 *
 * A value that does not decode is a {@linkcode StoreError} kind `data` naming
 * the job id — it is never replaced silently. Contention between processes
 * sharing one KV file ("database is locked") is retried; what outlasts the
 * retries, and a closed database, are kind `connection`.
 *
 * @example A store in a local file
 * ```ts
 * import { DenoKvStateStore, Job, Schedule, Scheduler, Task } from "@cloudiful/scheduler";
 * const store = await DenoKvStateStore.open(":memory:");
 * try {
 *   const job = Job.withoutDeps("kv-job", Schedule.interval(5), Task.fromSync(() => {}))
 *     .withMaxRuns(2);
 *   const report = await new Scheduler({}, store).run(job);
 *   console.log((await store.load("kv-job"))?.triggerCount); // 2
 * } finally {
 *   store.close();
 * }
 * ```
 */
export class DenoKvStateStore
  implements CreateIfAbsentStateStore, LeasedStateWrites {
  readonly #kv: Deno.Kv;
  readonly #prefix: Deno.KvKey;
  readonly #retryBudgetMs: number;
  #calls: KvStore | undefined;
  #ownsKv = false;
  #closed = false;

  /**
   * Uses an open `Deno.Kv`; {@linkcode DenoKvStateStore.close} leaves it
   * open (its owner closes it).
   *
   * @param kv The database.
   * @param options `keyPrefix` of the state keys.
   * @throws {InvalidJobError} kind `other` for a value that is not a
   * `Deno.Kv` or an invalid key prefix.
   */
  constructor(kv: Deno.Kv, options: DenoKvStateStoreOptions = {}) {
    this.#kv = requireKv(kv, "DenoKvStateStore");
    ({ prefix: this.#prefix, retryBudgetMs: this.#retryBudgetMs } =
      storeOptions(options, "DenoKvStateStore options"));
  }

  /**
   * Opens a Deno KV database (a file path, `":memory:"`, or Deno's default
   * database when omitted) and a store on it; `close()` closes it.
   *
   * @throws {InvalidJobError} kind `other` (as a rejection) on a runtime
   * without `Deno.openKv` (Node, Bun, Deno without `--unstable-kv`).
   *
   * @example
   * ```ts
   * import { DenoKvStateStore } from "@cloudiful/scheduler";
   * const store = await DenoKvStateStore.open(":memory:", { keyPrefix: ["my-app", "jobs"] });
   * store.close();
   * ```
   */
  static async open(
    path?: string,
    options: DenoKvStateStoreOptions = {},
  ): Promise<DenoKvStateStore> {
    const { prefix, retryBudgetMs } = storeOptions(
      options,
      "DenoKvStateStore.open options",
    );
    requireDenoKv("DenoKvStateStore.open()");
    const kv = await (await calls.load()).openKv(path);
    const store = new DenoKvStateStore(kv, {
      keyPrefix: prefix,
      retryBudgetMs,
    });
    store.#ownsKv = true;
    return store;
  }

  /**
   * The stored state of `jobId`, or `undefined`.
   *
   * @example
   * ```ts
   * import { DenoKvStateStore } from "@cloudiful/scheduler";
   * const store = await DenoKvStateStore.open(":memory:");
   * console.log(await store.load("nothing-yet")); // undefined
   * store.close();
   * ```
   */
  async load(jobId: string): Promise<JobState | undefined> {
    return await (this.#calls ?? await this.#loaded()).load(jobId);
  }

  /**
   * Stores `state` under its job id.
   *
   * @example
   * ```ts
   * import { DenoKvStateStore } from "@cloudiful/scheduler";
   * const store = await DenoKvStateStore.open(":memory:");
   * await store.save({ jobId: "a", triggerCount: 1, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null });
   * store.close();
   * ```
   */
  async save(state: JobState): Promise<void> {
    await (this.#calls ?? await this.#loaded()).save(state);
  }

  /**
   * Stores `state` only if no state of its job is stored (one commit checked
   * on the absent key); resolves `undefined` when stored, or the state
   * already there. The scheduler uses it for a job's first state, so that
   * instances starting together share one.
   *
   * @example
   * ```ts
   * import { DenoKvStateStore } from "@cloudiful/scheduler";
   * const store = await DenoKvStateStore.open(":memory:");
   * const state = { jobId: "a", triggerCount: 0, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null };
   * console.log(await store.createIfAbsent(state)); // undefined
   * console.log((await store.createIfAbsent({ ...state, triggerCount: 5 }))?.triggerCount); // 0
   * store.close();
   * ```
   */
  async createIfAbsent(state: JobState): Promise<JobState | undefined> {
    return await (this.#calls ?? await this.#loaded()).createIfAbsent(state);
  }

  /**
   * Whether `guard` is a {@linkcode DenoKvExecutionGuard} on this store's
   * `Deno.Kv` (the same object) whose keys cannot meet the state keys; the
   * scheduler then saves and takes or ends its leases in one commit
   * (docs/stores.md).
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard, DenoKvStateStore } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * console.log(new DenoKvStateStore(kv).sharesWith(guard)); // true
   * kv.close();
   * ```
   */
  sharesWith(guard: ExecutionGuard): boolean {
    return sharedSeed({ kv: this.#kv, prefix: this.#prefix }, guard) !==
      undefined;
  }

  /**
   * Saves `state` (merged, as `save`) and tries to take `slot` of `guard`
   * (with its in-flight record when `record`), in one commit; the state is saved
   * whether or not the slot is granted. A grant that wrote a record says
   * how many records the job has after it (`inFlight`; possibly more than
   * there are, never fewer). A failure is the guard's
   * (`ExecutionGuardError`; kind `data`: damaged guard data, set aside) and
   * nothing is written.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard, DenoKvStateStore } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const store = new DenoKvStateStore(kv);
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * const state = { jobId: "a", triggerCount: 1, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null };
   * const slot = { jobId: "a", scheduledAt: new Date(0) };
   * console.log((await store.saveAndAcquire({ guard, state, slot, record: false })).kind); // acquired
   * kv.close();
   * ```
   */
  saveAndAcquire(
    request: SaveAndAcquire,
  ): Promise<LeasedAcquire> {
    return this.#calls?.saveAndAcquire(request) ??
      this.#loaded().then((calls) => calls.saveAndAcquire(request));
  }

  /**
   * Saves `state` and ends `lease` (of `guard`) as `end` says, in one
   * commit. A damaged lease or record met on the way is set aside under its
   * quarantine key in the same commit, then reported: an
   * `ExecutionGuardError` kind `data` means saved, the end not confirmed.
   * Any other failure (a `StoreError`) saved nothing and ended nothing.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard, DenoKvStateStore } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const store = new DenoKvStateStore(kv);
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * const state = { jobId: "a", triggerCount: 1, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null };
   * const slot = { jobId: "a", scheduledAt: new Date(0) };
   * const answer = await store.saveAndAcquire({ guard, state, slot, record: false });
   * if (answer.kind === "acquired") {
   *   await store.saveAndEnd({ guard, state, lease: answer.lease, end: "release" });
   * }
   * kv.close();
   * ```
   */
  saveAndEnd(request: SaveAndEnd): Promise<void> {
    return this.#calls?.saveAndEnd(request) ??
      this.#loaded().then((calls) => calls.saveAndEnd(request));
  }

  /**
   * Removes the state of `jobId`.
   *
   * @example
   * ```ts
   * import { DenoKvStateStore } from "@cloudiful/scheduler";
   * const store = await DenoKvStateStore.open(":memory:");
   * await store.delete("a");
   * store.close();
   * ```
   */
  async delete(jobId: string): Promise<void> {
    await (this.#calls ?? await this.#loaded()).delete(jobId);
  }

  /**
   * Closes the database if {@linkcode DenoKvStateStore.open} opened it;
   * a `Deno.Kv` given to the constructor is left to its owner.
   *
   * @example
   * ```ts
   * import { DenoKvStateStore } from "@cloudiful/scheduler";
   * (await DenoKvStateStore.open(":memory:")).close();
   * ```
   */
  close(): void {
    if (!this.#ownsKv || this.#closed) return;
    this.#closed = true;
    this.#kv.close();
  }

  /** The calls, loaded and built on the first. */
  #loaded(): Promise<KvStore> {
    if (this.#calls !== undefined) return Promise.resolve(this.#calls);
    return calls.load().then((module) =>
      this.#calls ??= new module.KvStore({
        kv: this.#kv,
        prefix: this.#prefix,
        retryBudgetMs: this.#retryBudgetMs,
      })
    );
  }
}
