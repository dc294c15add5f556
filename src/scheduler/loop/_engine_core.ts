/**
 * The engine's core: the mutable state of one `run()` and the collaborators
 * that the loop, the launch path, the completion bookkeeping and the manual
 * runs all work on. One record shared by reference, so those parts can live
 * in files of their own without the engine handing each a bag of callbacks.
 *
 * @module
 */

import { StoreOperation } from "../../constants.ts";
import type { SchedulerError } from "../../errors.ts";
import type {
  ExecutionGuard,
  ExecutionLease,
} from "../../guard/execution_guard.ts";
import { type JobState, savedState } from "../../store/job_state.ts";
import { type StateStore, toStoreError } from "../../store/state_store.ts";
import { keepsNumbersOnly, saveInMemoryNow } from "../../store/in_memory.ts";
import {
  canWriteLeased,
  type LeasedStateWrites,
} from "../../store/leased_writes.ts";
import type { ResolvedConfig } from "../job/config.ts";
import type { Job } from "../job/job.ts";
import { definitionFingerprint } from "../job/_fingerprint.ts";
import type { SchedulerEvent } from "../events/events.ts";
import { RunHistory } from "../events/report.ts";
import type { Trigger } from "../rules/_decide.ts";
import type { ActiveRun, RunHost, RunOutcome } from "../run/_run_execution.ts";
import { ManualRequests } from "../run/manual.ts";
import type { ControlState } from "./_control_state.ts";
import { deliveryFor } from "./_delivery.ts";
import { Wakeup } from "./_wakeup.ts";
import type { Resume } from "./_resume.ts";
import type { AttemptTracer } from "../../telemetry/_attempt_span.ts";

/** What the engine needs from its scheduler. */
export interface EngineOptions<D> {
  readonly job: Job<D>;
  readonly config: ResolvedConfig;
  readonly store: StateStore;
  readonly guard: ExecutionGuard;
  readonly control: ControlState;
  /** The state loaded beforehand, instead of loading it (`_resume.ts`). */
  readonly resume?: Resume;
  /** Opens a span per attempt when tracing is registered. */
  readonly tracer?: AttemptTracer;
  /**
   * Settles before the state is loaded, while the tracer and the metrics
   * still load (`telemetry/_gate.ts`); absent on the usual path.
   */
  readonly ready?: Promise<void>;
  /** Whether anyone (listener or observer) wants events of `type`. */
  listens(type: SchedulerEvent["type"]): boolean;
  /** Delivers an event to the observer and the listeners. */
  dispatch(event: SchedulerEvent): void;
  /**
   * Frees the scheduler for its next `run()`; called just before
   * `scheduler-stopped` is dispatched, so its listeners may start one.
   */
  finish(): void;
}

/** The state of one `run()` shared by the engine and its parts. */
export class EngineCore<D> {
  readonly options: EngineOptions<D>;
  /** The engine, as the host of the runs it starts. */
  readonly host: RunHost<D>;
  readonly jobId: string;
  /** The job definition's fingerprint, saved with every state. */
  readonly definition: string;
  /** At-least-once bookkeeping (see _reclaim.ts); none for at-most-once. */
  readonly delivery: ReturnType<typeof deliveryFor>;
  /**
   * The store, when it writes the guard's leases with the state (one atomic
   * write before a run, one after: see store/leased_writes.ts).
   */
  readonly leased: LeasedStateWrites | undefined;
  readonly history: RunHistory;
  readonly manual: ManualRequests;
  readonly active: Set<ActiveRun> = new Set();
  readonly completions: RunOutcome[] = [];
  readonly wakeup: Wakeup = new Wakeup();
  /** Settles when the state is loaded (or failed to load). */
  markLoaded!: () => void;
  // Not Promise.withResolvers: the library also runs on Node 20.
  readonly loaded: Promise<void> = new Promise<void>((
    resolve,
  ) => (this.markLoaded = resolve));
  /**
   * The current state. Never mutated: each change makes a new object, so it
   * can be handed to the store without a defensive copy.
   */
  state!: Readonly<JobState>;
  queued: Trigger | undefined;
  /**
   * At-least-once: the lease (with its in-flight record) the queued trigger
   * was granted before its consumption was saved; see _queued_lease.ts.
   */
  queuedLease: ExecutionLease | undefined;
  fatal: SchedulerError | undefined;
  /** Start of the newest run recorded so far, so parallel runs never move
   * `lastRunAt` backwards. */
  newestStart: number = -Infinity;
  /**
   * Whether runs were given a macrotask to finish since the last burst
   * instant was taken or the last run started or completed.
   */
  settled = false;

  constructor(options: EngineOptions<D>, host: RunHost<D>) {
    const { job, config } = options;
    this.options = options;
    this.host = host;
    this.jobId = job.jobId;
    this.delivery = deliveryFor(job, options.guard, () => this.wakeup.notify());
    this.leased = canWriteLeased(options.store, options.guard)
      ? options.store
      : undefined;
    if (this.leased !== undefined) this.delivery.reclaimer?.grantThroughStore();
    this.history = options.resume?.history ??
      new RunHistory(config.historyLimit);
    this.definition = definitionFingerprint({ ...job, ...config });
    this.manual = new ManualRequests(job.jobId);
  }

  /** Whether a stop was requested or a fatal error occurred. */
  stopping(): boolean {
    return this.fatal !== undefined || this.options.control.stop !== undefined;
  }

  fail(error: SchedulerError): void {
    this.fatal ??= error;
    for (const run of this.active) run.interrupt(); // no further retries
    this.wakeup.notify();
  }

  /**
   * Saves the current state; a failure becomes the fatal error. Resolves
   * whether it was saved. (One promise hop: this is on every run's path.)
   */
  persist(): Promise<boolean> {
    let saving: Promise<void>;
    try {
      const { store } = this.options;
      if (keepsNumbersOnly(store)) {
        // Nothing else sees the state: the report adds its fingerprint.
        saveInMemoryNow(store, this);
        return SAVED;
      }
      saving = store.save(this.savable());
    } catch (error) {
      this.fail(toStoreError(error, StoreOperation.Save, this.jobId));
      return Promise.resolve(false);
    }
    return Promise.resolve(saving).then(saved, this.#saveFailed);
  }

  /**
   * The current state as it is saved. It replaces the current one (same
   * fields), so that the state carries its fingerprint from then on, as the
   * report's does.
   */
  savable(): Readonly<JobState> {
    this.state = savedState(this.state, this.definition);
    return this.state;
  }

  readonly #saveFailed = (error: unknown): boolean => {
    this.fail(toStoreError(error, StoreOperation.Save, this.jobId));
    return false;
  };
}

function saved(): boolean {
  return true;
}

/** A save that is already done (see `saveInMemoryNow`). */
const SAVED: Promise<boolean> = Promise.resolve(true);
