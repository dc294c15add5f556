/**
 * The Deno KV state store's calls, loaded on the first one
 * (`state_store.ts` is the public class): loads, merged saves checked on
 * versionstamps, the create checked on the absent key, the leased writes
 * of `_leased_writes.ts`, and the opening of a database.
 *
 * Needs Deno with `--unstable-kv`.
 *
 * @module
 */

import { StoreErrorKind, StoreOperation } from "../constants.ts";
import { describeThrown, describeValue, StoreError } from "../errors.ts";
import type { JobState } from "../store/job_state.ts";
import {
  requireSavableState,
  requireStoreJobId,
} from "../store/_store_input.ts";
import { decodeJobState, encodeJobState } from "../store/_json_codec.ts";
import type {
  LeasedAcquire,
  SaveAndAcquire,
  SaveAndEnd,
} from "../store/leased_writes.ts";
import { KvLeasedWrites } from "./_leased_writes.ts";
import {
  createIfAbsent,
  type KnownEntry,
  type KvWrite,
  saveMerged,
} from "./_state_writes.ts";
import {
  isConnectionKvError,
  KV_RETRY_BUDGET_MS,
  retryKv,
  retryTransient,
} from "./_kv_errors.ts";

/**
 * Opens a Deno KV database (`path` as `Deno.openKv` takes it).
 *
 * @throws {StoreError} kind `connection` when it cannot be opened.
 */
export async function openKv(path: string | undefined): Promise<Deno.Kv> {
  try {
    // Processes opening one file at once can find it locked for a moment.
    return await retryTransient(() => Deno.openKv(path));
  } catch (cause) {
    throw new StoreError(
      `cannot open Deno KV database ${describeValue(path ?? "(default)")}: ${
        describeThrown(cause)
      }`,
      { kind: StoreErrorKind.Connection, cause },
    );
  }
}

/** A store's checked settings. */
export interface KvStoreOptions {
  readonly kv: Deno.Kv;
  readonly prefix: Deno.KvKey;
  readonly retryBudgetMs: number;
}

/** One store's calls. */
export class KvStore {
  readonly #kv: Deno.Kv;
  readonly #prefix: Deno.KvKey;
  readonly #retryBudgetMs: number;
  /** The entry last seen per job id, so that a merged save is one commit. */
  readonly #known = new Map<string, KnownEntry>();
  /** One commit before a run and one after it (see _leased_writes.ts). */
  readonly #leased: KvLeasedWrites;

  constructor(options: KvStoreOptions) {
    this.#kv = options.kv;
    this.#prefix = options.prefix;
    this.#retryBudgetMs = options.retryBudgetMs;
    this.#leased = new KvLeasedWrites({ ...options, known: this.#known });
  }

  /** The stored state of `jobId`, or `undefined`. */
  async load(jobId: string): Promise<JobState | undefined> {
    requireStoreJobId(jobId);
    const entry = await this.#call(
      StoreOperation.Load,
      jobId,
      () => this.#kv.get<unknown>(this.#key(jobId)),
    );
    this.#known.set(jobId, entry);
    if (entry.value === null) return undefined;
    return decodeJobState(entry.value, jobId);
  }

  /** Stores `state`, merged over the stored one. */
  async save(state: JobState): Promise<void> {
    requireSavableState(state);
    encodeJobState(state); // an unstorable state fails before any commit
    await this.#call(
      StoreOperation.Save,
      state.jobId,
      () => saveMerged(this.#kv, this.#write(state)),
    );
  }

  /** Stores `state` unless its job has one; else the one there. */
  async createIfAbsent(state: JobState): Promise<JobState | undefined> {
    requireSavableState(state);
    encodeJobState(state); // as in save(): kind `data`, before any commit
    return await this.#call(
      StoreOperation.Save,
      state.jobId,
      () => createIfAbsent(this.#kv, this.#write(state)),
    );
  }

  /** Saves and tries to take the slot, in one commit. */
  saveAndAcquire(request: SaveAndAcquire): Promise<LeasedAcquire> {
    return this.#leased.saveAndAcquire(request);
  }

  /** Saves and ends the lease, in one commit. */
  saveAndEnd(request: SaveAndEnd): Promise<void> {
    return this.#leased.saveAndEnd(request);
  }

  /** Removes the state of `jobId`. */
  async delete(jobId: string): Promise<void> {
    requireStoreJobId(jobId);
    this.#known.delete(jobId);
    await this.#call(
      StoreOperation.Delete,
      jobId,
      () => this.#kv.delete(this.#key(jobId)),
    );
  }

  #write(state: JobState): KvWrite {
    return { key: this.#key(state.jobId), state, known: this.#known };
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
      return await retryKv(call, {
        contentionMs: KV_RETRY_BUDGET_MS,
        connectionMs: this.#retryBudgetMs,
      });
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
