/**
 * A state store on Valkey (or Redis), compatible with the Rust crate's keys
 * and values, so a Rust and a TypeScript service can share one server.
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
import { ResilientStateStore, startDegraded } from "../store/resilient.ts";
import type { StateStore } from "../store/state_store.ts";
import {
  closeClient,
  connectClient,
  createClient,
  isConnectionError,
  isDataError,
  validatePrefix,
  validateUrl,
  type ValkeyClient,
} from "./_client.ts";

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
   * While degraded, the server is tried again at most once per this many ms.
   *
   * @default {5000}
   */
  probeIntervalMs?: number;
}

/** A URL fit for an error message: without its credentials. */
function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}

/** Wraps a client failure as a StoreError with its class. */
export function toValkeyStoreError(
  cause: unknown,
  operation: StoreOperation | undefined,
  subject: string,
): StoreError {
  if (cause instanceof StoreError) return cause;
  return new StoreError(
    `Valkey ${operation ?? "connect"} failed for ${subject}: ${
      describeThrown(cause)
    }`,
    {
      kind: isConnectionError(cause)
        ? StoreErrorKind.Connection
        : isDataError(cause)
        ? StoreErrorKind.Data
        : StoreErrorKind.Unknown,
      operation,
      cause,
    },
  );
}

/**
 * Persists job states in Valkey: key `<prefix><jobId>`, value the Rust
 * crate's JSON. With the default prefix, a missing state is also looked up
 * under the legacy `scheduler:job-state:<jobId>`, and `delete` removes both.
 *
 * Connection-class failures (refused, reset, timeout, closed, `LOADING`,
 * `BUSY`, `MASTERDOWN`, `CLUSTERDOWN`, `TRYAGAIN`) are kind `connection`, a
 * value that does not decode is kind `data`, anything else `unknown`.
 * Commands fail at once while the server is unreachable (no offline queue)
 * and the client reconnects in the background; wrap the store in a
 * `ResilientStateStore` (see {@linkcode ValkeyStateStore.resilient}) to keep
 * scheduling through an outage.
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
export class ValkeyStateStore implements StateStore {
  readonly #client: ValkeyClient;
  readonly #prefix: string;

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
    } catch (cause) {
      await closeClient(store.#client);
      throw toValkeyStoreError(cause, undefined, redact(url));
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
    } catch (cause) {
      if (!isConnectionError(cause)) {
        // Wrong credentials and the like: no reconnection will cure them.
        await store.close();
        throw toValkeyStoreError(cause, undefined, redact(url));
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
    if (typeof options !== "object" || options === null) {
      throw new InvalidJobError(
        `${what} options must be an object, got ${describeValue(options)}`,
        { kind: InvalidJobKind.Other },
      );
    }
    const prefix = validatePrefix(
      options.keyPrefix === undefined
        ? DEFAULT_STATE_PREFIX
        : options.keyPrefix,
      what,
    );
    return new ValkeyStateStore(createClient(url), prefix);
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
    let text: string | null;
    try {
      text = await this.#client.get(this.#prefix + jobId);
      if (text === null && this.#prefix === DEFAULT_STATE_PREFIX) {
        text = await this.#client.get(LEGACY_STATE_PREFIX + jobId);
      }
    } catch (cause) {
      throw toValkeyStoreError(
        cause,
        StoreOperation.Load,
        `job ${JSON.stringify(jobId)}`,
      );
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
  async save(state: JobState): Promise<void> {
    const text = encodeJobState(state);
    try {
      await this.#client.set(this.#prefix + state.jobId, text);
    } catch (cause) {
      throw toValkeyStoreError(
        cause,
        StoreOperation.Save,
        `job ${JSON.stringify(state.jobId)}`,
      );
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
    const keys = [this.#prefix + jobId];
    if (this.#prefix === DEFAULT_STATE_PREFIX) {
      keys.push(LEGACY_STATE_PREFIX + jobId);
    }
    try {
      await this.#client.del(...keys);
    } catch (cause) {
      throw toValkeyStoreError(
        cause,
        StoreOperation.Delete,
        `job ${JSON.stringify(jobId)}`,
      );
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
}
