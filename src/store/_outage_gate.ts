/**
 * The outage state of a `ResilientStateStore`: whether calls go to the
 * primary or to the mirror, the probes of a primary that was down (at most
 * one per `probeIntervalMs`) with the write-back of what changed, and the
 * `store-degraded` / `store-recovered` reports.
 *
 * Runtime-neutral.
 *
 * @module
 */

import {
  ExecutionGuardErrorKind,
  StoreErrorKind,
  StoreOperation,
} from "../constants.ts";
import {
  describeThrown,
  ExecutionGuardError,
  isInstance,
  StoreError,
} from "../errors.ts";
import type { StoreMirror } from "./_mirror.ts";
import type { StateStore, StoreEventDetail } from "./state_store.ts";

/** What the gate works with. */
export interface OutageGateOptions {
  readonly primary: StateStore;
  readonly mirror: StoreMirror;
  readonly isConnectionError: (error: unknown) => boolean;
  readonly probeIntervalMs: number;
  readonly dispatch: (detail: StoreEventDetail) => void;
}

/** How one call passes the gate. */
export interface GateCall<T> {
  readonly operation: StoreOperation;
  readonly jobId: string;
  /** The call on the primary. */
  readonly onPrimary: () => Promise<T>;
  /**
   * The call served while the primary is down (`outage`: the failure that
   * says so, when one was met).
   */
  readonly onMirror: (outage?: unknown) => T;
  /**
   * Probe a degraded primary now, whatever the interval (a lease's grant or
   * end, which the guard would be asked for anyway).
   */
  readonly probeNow?: boolean;
  /** Which failures are an outage, when more than `isConnectionError`. */
  readonly isOutage?: (error: unknown) => boolean;
}

/** Routes a resilient store's calls to its primary or its mirror. */
export class OutageGate {
  readonly #o: OutageGateOptions;
  #degraded = false;
  #lastProbeAt = 0;
  /**
   * Why the last probe failed when it was not connectivity (the primary
   * answered but refused us, e.g. `WRONGPASS`): thrown by every call until a
   * probe succeeds, so that no call reports a success the primary refused.
   */
  #probeFailure: unknown = undefined;
  /** An outage found at start-up, reported on the first call (when a
   * scheduler is listening). */
  #unreportedOutage: string | undefined;

  constructor(options: OutageGateOptions) {
    this.#o = options;
  }

  /** Whether calls are served from the mirror. */
  get degraded(): boolean {
    return this.#degraded;
  }

  /** Starts degraded: the primary could not be reached at start-up. */
  enterDegraded(error: string): void {
    if (this.#degraded) return;
    this.#degraded = true;
    this.#lastProbeAt = Date.now();
    this.#unreportedOutage = error;
  }

  /** Runs `call` on the primary, or on the mirror while it is down. */
  async call<T>(call: GateCall<T>): Promise<T> {
    const { operation, jobId, onMirror } = call;
    if (this.#degraded) {
      if (this.#unreportedOutage !== undefined) {
        const error = this.#unreportedOutage;
        this.#unreportedOutage = undefined;
        this.#o.dispatch({
          type: "store-degraded",
          operation,
          error,
          // startDegraded: the primary could not be reached at start-up.
          errorKind: StoreErrorKind.Connection,
          jobId,
        });
      }
      if (
        call.probeNow !== true &&
        Date.now() - this.#lastProbeAt < this.#o.probeIntervalMs
      ) {
        if (this.#probeFailure !== undefined) throw this.#probeFailure;
        return onMirror();
      }
      this.#lastProbeAt = Date.now();
      try {
        await this.writeBack();
      } catch (error) {
        if (this.#o.isConnectionError(error)) {
          this.#probeFailure = undefined;
          return onMirror(error);
        }
        this.#probeFailure = error;
        throw error;
      }
      this.#probeFailure = undefined;
      // The call itself is the probe: the primary is back when it answers,
      // not when a write-back had nothing to write (and never asked it).
      return await this.#probe(call);
    }
    this.#o.mirror.throwRefusedWriteBack(jobId);
    try {
      return await call.onPrimary();
    } catch (error) {
      const outage = call.isOutage ?? this.#o.isConnectionError;
      if (!outage(error)) throw error;
      this.#degraded = true;
      this.#lastProbeAt = Date.now();
      this.#o.dispatch({
        type: "store-degraded",
        operation,
        error: describeThrown(error),
        errorKind: outageKind(error),
        jobId,
      });
      return onMirror(error);
    }
  }

  /** `call` on a degraded primary: served, or still down (no event). */
  async #probe<T>(call: GateCall<T>): Promise<T> {
    this.#o.mirror.throwRefusedWriteBack(call.jobId);
    let result: T;
    try {
      result = await call.onPrimary();
    } catch (error) {
      if ((call.isOutage ?? this.#o.isConnectionError)(error)) {
        return call.onMirror(error);
      }
      throw error;
    }
    this.#degraded = false;
    this.#o.dispatch({
      type: "store-recovered",
      operation: call.operation,
      jobId: call.jobId,
    });
    this.#reportOverriddenDeletes();
    return result;
  }

  /**
   * One `store-recovered` per job whose delete during the outage was not
   * replayed, because another writer saved it since: never silent.
   */
  #reportOverriddenDeletes(): void {
    for (const jobId of this.#o.mirror.takeOverriddenDeletes()) {
      this.#o.dispatch({
        type: "store-recovered",
        operation: StoreOperation.Delete,
        jobId,
        note: `the delete of job ${
          JSON.stringify(jobId)
        } made during the outage was not replayed: another writer saved its state since, which is kept (merged with any state saved after the delete)`,
      });
    }
  }

  /** Writes what changed during the outage back to the primary. */
  writeBack(): Promise<void> {
    return this.#o.mirror.writeBack(this.#o.primary, this.#o.isConnectionError);
  }

  /**
   * The write-back of `close()`, whatever the probe interval: resolves when
   * nothing is left unwritten (`store-recovered` when it ended an outage),
   * else rejects with a `StoreError` naming each job whose state the primary
   * does not hold, and why, as nothing else will report them.
   */
  async lastWriteBack(): Promise<void> {
    const mirror = this.#o.mirror;
    const wrote = mirror.dirtyJobIds;
    const unwritten = new Map<string, unknown>();
    try {
      await this.writeBack();
      if (this.#degraded && wrote.length > 0) {
        this.#degraded = false;
        this.#probeFailure = undefined;
        this.#o.dispatch({
          type: "store-recovered",
          operation: StoreOperation.Save,
          jobId: wrote[0],
        });
      }
      this.#reportOverriddenDeletes();
    } catch (error) {
      for (const jobId of mirror.dirtyJobIds) unwritten.set(jobId, error);
    }
    for (const [jobId, error] of mirror.takeRefusedWriteBacks()) {
      unwritten.set(jobId, error);
    }
    if (unwritten.size > 0) throw unwrittenError(unwritten);
  }
}

/** What `close()` rejects with for states it could not write back. */
function unwrittenError(unwritten: Map<string, unknown>): StoreError {
  const first = unwritten.values().next().value;
  const jobIds = [...unwritten.keys()].map((id) => JSON.stringify(id));
  const reasons = [...new Set([...unwritten.values()].map(describeThrown))];
  return new StoreError(
    `close(): the primary store does not hold the states of jobs ${
      jobIds.join(", ")
    } written while it was down: ${reasons.join("; ")}`,
    {
      kind: isInstance(first, StoreError) ? first.kind : StoreErrorKind.Unknown,
      operation: StoreOperation.Save,
      cause: first,
    },
  );
}

/** The kind a `store-degraded` event reports for `error`. */
function outageKind(error: unknown): StoreErrorKind {
  if (isInstance(error, StoreError)) return error.kind;
  // A grant's outage, written with the state: the deployment is down.
  return isInstance(error, ExecutionGuardError) &&
      error.kind === ExecutionGuardErrorKind.Connection
    ? StoreErrorKind.Connection
    : StoreErrorKind.Unknown;
}
