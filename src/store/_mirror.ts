/**
 * The mirror of a `ResilientStateStore`: the last state known per job, what
 * changed while the primary was down, and the write-back of those changes.
 *
 * Runtime-neutral.
 *
 * @module
 */

import { StoreErrorKind } from "../constants.ts";
import { isInstance, StoreError } from "../errors.ts";
import { copyJobState, type JobState } from "./job_state.ts";
import { mergeJobStates } from "./_merge_state.ts";
import type { StateStore } from "./state_store.ts";

/** The primary refuses our credentials: nothing to mask, nothing to drop. */
function isAuthStoreError(error: unknown): boolean {
  return isInstance(error, StoreError) && error.kind === StoreErrorKind.Auth;
}

const instant = (date: Date | null) => date?.getTime() ?? null;

/** Whether two states of a job say the same. */
function sameJobState(a: JobState, b: JobState): boolean {
  return a.triggerCount === b.triggerCount &&
    instant(a.lastRunAt) === instant(b.lastRunAt) &&
    instant(a.lastSuccessAt) === instant(b.lastSuccessAt) &&
    instant(a.nextRunAt) === instant(b.nextRunAt) &&
    a.lastError === b.lastError;
}

/** The in-process copy of the primary's states. */
export class StoreMirror {
  /** Last known state per job id; `null` = known to be absent. */
  readonly #states = new Map<string, JobState | null>();
  /** Job ids whose mirror entry changed while degraded. */
  readonly #dirty = new Set<string>();
  /**
   * Dirty job ids deleted since the last write-back: the primary's merging
   * `save` would fold a fresh state into the old one, so the write-back
   * deletes first, but only while the primary still holds what this
   * instance knew it to hold (`#before`); a state another writer saved
   * since is kept and reported (docs/stores.md).
   */
  readonly #deleted = new Set<string>();
  /** Per dirty job, the state known on the primary before the outage's changes. */
  readonly #before = new Map<string, JobState | null | undefined>();
  /** Deletes the write-back did not replay: another writer saved since. */
  #overridden: string[] = [];
  /**
   * Write-backs the primary refused for a reason other than connectivity
   * (a value too large, corrupt data): reported to that job's next call,
   * never to another job's, and never retried forever.
   */
  readonly #refusedWriteBacks = new Map<string, unknown>();

  /** The last known state; `null` = known absent, `undefined` = unknown. */
  get(jobId: string): JobState | null | undefined {
    return this.#states.get(jobId);
  }

  /** Records what the primary holds (or will hold) for `jobId`. */
  set(jobId: string, state: JobState | null): void {
    this.#states.set(jobId, state);
  }

  /** The mirror, like the primary, never moves a state back. */
  save(state: JobState): void {
    this.#states.set(
      state.jobId,
      mergeJobStates(this.#states.get(state.jobId) ?? undefined, state),
    );
  }

  /** Saves `state` during the outage: written back on recovery. */
  saveWhileDown(state: JobState): void {
    this.markDirty(state.jobId);
    this.save(state);
  }

  /**
   * Marks `jobId` changed during the outage: to be written back. Called
   * before the mirror entry changes, so that the state the primary held
   * is remembered.
   */
  markDirty(jobId: string): void {
    if (!this.#dirty.has(jobId)) {
      this.#before.set(jobId, this.#states.get(jobId));
    }
    this.#dirty.add(jobId);
  }

  /** Deletes `jobId` during the outage: deleted on the primary on write-back. */
  delete(jobId: string): void {
    this.markDirty(jobId);
    this.#states.set(jobId, null);
    this.#deleted.add(jobId);
  }

  /** The job ids still to be written back. */
  get dirtyJobIds(): readonly string[] {
    return [...this.#dirty];
  }

  /**
   * Writes every state changed during the outage to `primary`. A
   * connection-class error stops it (the primary is still down, the rest
   * stays dirty); any other error concerns that one job's state and is kept
   * for that job's next call while the others are written. A job deleted
   * during the outage is deleted on the primary first, then saved when a
   * state followed the delete; unless the primary holds a state this
   * instance did not know of before its delete (another writer saved it
   * meanwhile): that state is kept, the one that followed merged into it,
   * and the job named by {@linkcode StoreMirror.takeOverriddenDeletes}.
   */
  async writeBack(
    primary: StateStore,
    isConnectionError: (error: unknown) => boolean,
  ): Promise<void> {
    for (const jobId of [...this.#dirty]) {
      const state = this.#states.get(jobId) ?? null;
      try {
        if (this.#deleted.has(jobId) || state === null) {
          if (await this.#stillKnown(primary, jobId)) {
            await primary.delete(jobId);
          } else this.#overridden.push(jobId);
          // Done: a save cut by the outage must not delete again on retry.
          this.#deleted.delete(jobId);
        }
        if (state !== null) await primary.save(copyJobState(state));
      } catch (error) {
        // Refused credentials concern every job: stop, keep them all dirty.
        if (isConnectionError(error) || isAuthStoreError(error)) {
          throw error;
        }
        this.#refusedWriteBacks.set(jobId, error);
      }
      this.#dirty.delete(jobId);
      this.#deleted.delete(jobId);
      this.#before.delete(jobId);
    }
  }

  /**
   * Whether the primary holds nothing for `jobId`, or what this instance
   * knew before deleting it (or knew nothing: a blind delete is kept).
   */
  async #stillKnown(primary: StateStore, jobId: string): Promise<boolean> {
    const known = this.#before.get(jobId);
    if (known === undefined) return true;
    const current = await primary.load(jobId);
    if (current === undefined) return true;
    return known !== null && sameJobState(current, known);
  }

  /** Takes the job ids whose delete the write-back did not replay. */
  takeOverriddenDeletes(): string[] {
    const overridden = this.#overridden;
    this.#overridden = [];
    return overridden;
  }

  /** Takes every refused write-back no call has been told of yet. */
  takeRefusedWriteBacks(): Map<string, unknown> {
    const refused = new Map(this.#refusedWriteBacks);
    this.#refusedWriteBacks.clear();
    return refused;
  }

  /** Throws the write-back of `jobId` the primary refused, once. */
  throwRefusedWriteBack(jobId: string): void {
    if (!this.#refusedWriteBacks.has(jobId)) return;
    const error = this.#refusedWriteBacks.get(jobId);
    this.#refusedWriteBacks.delete(jobId);
    throw error;
  }
}
