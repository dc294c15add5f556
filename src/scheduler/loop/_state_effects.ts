/**
 * The engine's effects on the stored state at the start and the end of a
 * `run()`: loading (or atomically creating) the job's state, reconciling it
 * with the job's definition, saving it when needed, and deleting a terminal
 * state; each announced with its events in the Rust crate's order.
 *
 * @module
 */

import {
  StateLoadSource,
  StoreOperation,
  TerminalStatePolicy,
} from "../../constants.ts";
import { type JobState, withDefinition } from "../../store/job_state.ts";
import {
  canCreateIfAbsent,
  type StateStore,
  toStoreError,
} from "../../store/state_store.ts";
import type { ResolvedConfig } from "../job/config.ts";
import type { SchedulerEvent } from "../events/events.ts";
import type { Job } from "../job/job.ts";
import { checkStoredState, initialState } from "../rules/_initial_state.ts";
import { createFirstState } from "./_first_state.ts";
import { reconciledEvent, reconcileState } from "../rules/_reconcile.ts";

/** What the state effects need from the engine. */
export interface StateEffectsHost<D> {
  readonly jobId: string;
  readonly job: Job<D>;
  readonly config: ResolvedConfig;
  readonly store: StateStore;
  /** The job definition's fingerprint, saved with every state. */
  readonly definition: string;
  listens(type: SchedulerEvent["type"]): boolean;
  dispatch(event: SchedulerEvent): void;
  /**
   * Takes the loaded state, before any event about it is dispatched: a
   * listener (say, of `state-loaded`) may already use the scheduler.
   */
  adopt(state: JobState): void;
  /**
   * Whether a new interval state starts on the epoch grid: set when the job
   * runs under a shared execution guard, whose slots only meet if every
   * instance derives the same instants (docs/recovery.md).
   */
  readonly grid?: boolean;
}

function stateLoaded(
  jobId: string,
  state: JobState,
  source: StateLoadSource,
): SchedulerEvent {
  return {
    type: "state-loaded",
    jobId,
    triggerCount: state.triggerCount,
    nextRunAt: state.nextRunAt && new Date(state.nextRunAt),
    source,
  };
}

/**
 * Loads the job's state, or creates its first one (atomically when the
 * store can, adopting the winner's), reconciled with the job's definition;
 * saves it when it is new, repaired or reconciled. The state is handed to
 * `host.adopt` before its events are dispatched.
 *
 * @throws {StoreError} when the store fails or holds an invalid state.
 */
export async function loadJobState<D>(
  host: StateEffectsHost<D>,
): Promise<void> {
  const { store, job, config, jobId } = host;
  let stored: JobState | undefined;
  try {
    stored = await store.load(jobId) ?? undefined;
  } catch (error) {
    throw toStoreError(error, StoreOperation.Load, jobId);
  }
  checkStoredState(stored, jobId);
  const adopt = (from: JobState | undefined) => {
    const now = Date.now();
    const reconciled = from && reconcileState(from, {
      ...job,
      ...config,
      fingerprint: host.definition,
      now,
    });
    const initial = initialState(reconciled?.state ?? from, {
      job,
      config,
      now,
      grid: host.grid,
    });
    return { ...initial, reconciled };
  };
  let initial = adopt(stored);
  if (initial.source === StateLoadSource.New && canCreateIfAbsent(store)) {
    // Instances starting together agree on one first state: the winner's
    // (reconciled with this definition if another one wrote it).
    const winner = await createFirstState(
      store,
      withDefinition(initial.state, host.definition),
    );
    initial = winner === undefined
      ? { ...initial, save: false }
      : adopt(winner);
  }
  const { state, source, save, reconciled } = initial;
  host.adopt(state);
  const listens = (type: SchedulerEvent["type"]) => host.listens(type);
  // The Rust crate's order: a new state is announced, then saved; a
  // repaired one is saved, then announced. (A new state created with
  // createIfAbsent is already stored when it is announced.)
  if (source === StateLoadSource.New && listens("state-loaded")) {
    host.dispatch(stateLoaded(jobId, state, source));
  }
  if (save || reconciled) {
    try {
      await store.save(withDefinition(state, host.definition));
    } catch (error) {
      throw toStoreError(error, StoreOperation.Save, jobId);
    }
  }
  if (reconciled && listens("state-reconciled")) {
    host.dispatch(reconciledEvent(jobId, reconciled));
  }
  if (source === StateLoadSource.Repaired && listens("state-repaired")) {
    host.dispatch({
      type: "state-repaired",
      jobId,
      triggerCount: state.triggerCount,
      previousNextRunAt: null,
      repairedNextRunAt: new Date(state.nextRunAt!),
    });
  }
  if (source !== StateLoadSource.New && listens("state-loaded")) {
    host.dispatch(stateLoaded(jobId, state, source));
  }
}

/**
 * Deletes the job's exhausted state when the config says so, announcing it.
 *
 * @throws {StoreError} when the store fails.
 */
export async function deleteTerminalState<D>(
  host: StateEffectsHost<D>,
  state: JobState,
): Promise<void> {
  const { config, store, jobId } = host;
  if (config.terminalStatePolicy !== TerminalStatePolicy.Delete) return;
  try {
    await store.delete(jobId);
  } catch (error) {
    throw toStoreError(error, StoreOperation.Delete, jobId);
  }
  if (host.listens("terminal-state-deleted")) {
    host.dispatch({
      type: "terminal-state-deleted",
      jobId,
      triggerCount: state.triggerCount,
    });
  }
}
