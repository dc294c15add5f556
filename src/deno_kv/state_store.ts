/**
 * A state store on Deno KV, the embedded default: no server, one file (or
 * `:memory:`), shared safely by several processes.
 *
 * Needs Deno with `--unstable-kv` (or `"unstable": ["kv"]` in deno.json).
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
import type { JobState } from "../store/job_state.ts";
import { decodeJobState, encodeJobState } from "../store/json_codec.ts";
import type { StateStore } from "../store/state_store.ts";
import { isConnectionKvError, retryTransient } from "./_kv_errors.ts";

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
}

/** The default key prefix of job states. */
export const DEFAULT_STATE_KEY_PREFIX: Deno.KvKey = ["scheduler", "job-state"];

/** Checks a key prefix and returns a copy. */
export function validateKeyPrefix(prefix: unknown, what: string): Deno.KvKey {
  const valid = Array.isArray(prefix) &&
    prefix.every((part) =>
      ["string", "number", "bigint", "boolean"].includes(typeof part) ||
      part instanceof Uint8Array
    );
  if (!valid) {
    throw new InvalidJobError(
      `${what} keyPrefix must be an array of Deno KV key parts (strings, numbers, bigints, booleans, Uint8Arrays), got ${
        describeValue(prefix)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  return [...(prefix as Deno.KvKeyPart[])];
}

/**
 * Persists job states in Deno KV under `[...keyPrefix, jobId]`, as the Rust
 * crate's JSON text, so that the value reads the same from any language.
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
export class DenoKvStateStore implements StateStore {
  readonly #kv: Deno.Kv;
  readonly #prefix: Deno.KvKey;
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
    this.#prefix = validateKeyPrefix(
      options?.keyPrefix === undefined
        ? DEFAULT_STATE_KEY_PREFIX
        : options.keyPrefix,
      "DenoKvStateStore",
    );
  }

  /**
   * Opens a Deno KV database (a file path, `":memory:"`, or Deno's default
   * database when omitted) and a store on it; `close()` closes it.
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
    const prefix = validateKeyPrefix(
      options?.keyPrefix === undefined
        ? DEFAULT_STATE_KEY_PREFIX
        : options.keyPrefix,
      "DenoKvStateStore",
    );
    let kv: Deno.Kv;
    try {
      kv = await Deno.openKv(path);
    } catch (cause) {
      throw new StoreError(
        `cannot open Deno KV database ${describeValue(path ?? "(default)")}: ${
          describeThrown(cause)
        }`,
        { kind: StoreErrorKind.Connection, cause },
      );
    }
    const store = new DenoKvStateStore(kv, { keyPrefix: prefix });
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
    const entry = await this.#call(
      StoreOperation.Load,
      jobId,
      () => this.#kv.get<unknown>(this.#key(jobId)),
    );
    if (entry.value === null) return undefined;
    return decodeJobState(entry.value, jobId);
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
    const text = encodeJobState(state);
    await this.#call(
      StoreOperation.Save,
      state.jobId,
      () => this.#kv.set(this.#key(state.jobId), text),
    );
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
    await this.#call(
      StoreOperation.Delete,
      jobId,
      () => this.#kv.delete(this.#key(jobId)),
    );
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

  #key(jobId: string): Deno.KvKey {
    return [...this.#prefix, jobId];
  }

  async #call<T>(
    operation: StoreOperation,
    jobId: string,
    call: () => Promise<T>,
  ): Promise<T> {
    try {
      return await retryTransient(call);
    } catch (cause) {
      throw new StoreError(
        `Deno KV ${operation} failed for job ${JSON.stringify(jobId)}: ${
          describeThrown(cause)
        }`,
        {
          kind: isConnectionKvError(cause)
            ? StoreErrorKind.Connection
            : StoreErrorKind.Unknown,
          operation,
          cause,
        },
      );
    }
  }
}

/** Checks that a value looks like an open `Deno.Kv`. */
export function requireKv(kv: unknown, what: string): Deno.Kv {
  const candidate = kv as Partial<Deno.Kv> | null;
  if (
    typeof candidate?.get !== "function" ||
    typeof candidate?.atomic !== "function" ||
    typeof candidate?.set !== "function"
  ) {
    throw new InvalidJobError(
      `${what} needs a Deno.Kv (from Deno.openKv()), got ${describeValue(kv)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  return kv as Deno.Kv;
}
