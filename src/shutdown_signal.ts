/**
 * An `AbortSignal` that aborts when the process is asked to stop (SIGINT,
 * SIGTERM), on whichever runtime this is.
 *
 * Runtime-neutral: it feature-detects `Deno.addSignalListener`, then Node's
 * and Bun's `process.on`; elsewhere (a browser) it listens to nothing and
 * only aborts through `abort()`.
 *
 * @module
 */

import { InvalidJobKind } from "./constants.ts";
import { describeValue, InvalidJobError } from "./errors.ts";
import { checkOptions } from "./_options.ts";

/**
 * The OS signals {@linkcode ShutdownSignal} can listen for.
 *
 * @example
 * ```ts
 * import type { ShutdownSignalName } from "@cloudiful/scheduler";
 * const signals: ShutdownSignalName[] = ["SIGINT", "SIGTERM", "SIGHUP"];
 * ```
 */
export type ShutdownSignalName = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGBREAK";

/**
 * Options of {@linkcode ShutdownSignal}.
 *
 * @example
 * ```ts
 * import { ShutdownSignal } from "@cloudiful/scheduler";
 * const shutdown = new ShutdownSignal({ signals: ["SIGINT", "SIGTERM", "SIGHUP"] });
 * shutdown.dispose();
 * ```
 */
export interface ShutdownSignalOptions {
  /**
   * The signals that abort.
   *
   * @default {["SIGINT", "SIGTERM"]}
   */
  signals?: readonly ShutdownSignalName[];
}

/**
 * How to add and remove an OS signal listener on some runtime; tests pass
 * their own to raise signals by hand.
 *
 * @example
 * ```ts
 * import { ShutdownSignal, type SignalRuntime } from "@cloudiful/scheduler";
 * const listeners = new Set<() => void>();
 * const runtime: SignalRuntime = {
 *   add: (_signal, listener) => void listeners.add(listener),
 *   remove: (_signal, listener) => void listeners.delete(listener),
 * };
 * const shutdown = new ShutdownSignal({}, runtime);
 * for (const listener of [...listeners]) listener(); // "SIGINT"
 * console.log(shutdown.signal.aborted); // true
 * ```
 */
export interface SignalRuntime {
  /** Adds an OS signal listener; throws when the signal is unsupported. */
  add(signal: ShutdownSignalName, listener: () => void): void;
  /** Removes a listener added with `add`. */
  remove(signal: ShutdownSignalName, listener: () => void): void;
}

interface DenoLike {
  addSignalListener(signal: string, listener: () => void): void;
  removeSignalListener(signal: string, listener: () => void): void;
}

interface ProcessLike {
  on(signal: string, listener: () => void): unknown;
  off(signal: string, listener: () => void): unknown;
}

/** The current runtime's signal API, or `undefined` when it has none. */
export function detectSignalRuntime(): SignalRuntime | undefined {
  const global = globalThis as { Deno?: Partial<DenoLike> };
  const deno = global.Deno;
  if (
    typeof deno?.addSignalListener === "function" &&
    typeof deno.removeSignalListener === "function"
  ) {
    const api = deno as DenoLike;
    return {
      add: (signal, listener) => api.addSignalListener(signal, listener),
      remove: (signal, listener) => api.removeSignalListener(signal, listener),
    };
  }
  const process = (globalThis as { process?: Partial<ProcessLike> }).process;
  if (typeof process?.on === "function" && typeof process.off === "function") {
    const api = process as ProcessLike;
    return {
      add: (signal, listener) => void api.on(signal, listener),
      remove: (signal, listener) => void api.off(signal, listener),
    };
  }
  return undefined;
}

const KNOWN_SIGNALS: readonly ShutdownSignalName[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGBREAK",
];

/**
 * One `AbortSignal` for a whole process: it aborts on the first SIGINT or
 * SIGTERM (with a `DOMException` named `AbortError` that names the signal),
 * and its listeners are removed then, so a second Ctrl-C ends the process
 * the usual way. Pass `signal` to every job; `dispose()` removes the
 * listeners without aborting.
 *
 * A signal the platform does not support (SIGTERM on Windows) is left out;
 * `listening` says which ones were installed.
 *
 * @example Stop every job on Ctrl-C or `kill`
 * ```ts
 * import { schedule, ShutdownSignal } from "@cloudiful/scheduler";
 * const shutdown = new ShutdownSignal();
 * const job = schedule({ everyMs: 60_000 }, { signal: shutdown.signal }, () => {});
 * shutdown.abort(); // what SIGINT or SIGTERM would do
 * console.log((await job.done).stopReason); // cancelled
 * ```
 */
export class ShutdownSignal {
  readonly #controller = new AbortController();
  readonly #runtime: SignalRuntime | null;
  readonly #listening: ShutdownSignalName[] = [];
  readonly #onSignal: Map<ShutdownSignalName, () => void> = new Map();

  /**
   * Starts listening.
   *
   * @param options `signals`: which ones abort (default SIGINT and SIGTERM).
   * @param runtime How to listen: detected when omitted, none with `null`
   * (tests pass their own).
   * @throws {InvalidJobError} kind `other` for unknown options or signals.
   */
  constructor(
    options: ShutdownSignalOptions = {},
    runtime: SignalRuntime | null = detectSignalRuntime() ?? null,
  ) {
    const { signals } = checkOptions(options, {
      what: "ShutdownSignal options",
      known: ["signals"],
    });
    const names = signals ?? ["SIGINT", "SIGTERM"];
    if (
      !Array.isArray(names) ||
      names.some((name) => !KNOWN_SIGNALS.includes(name))
    ) {
      throw new InvalidJobError(
        `ShutdownSignal signals must be a list of ${
          KNOWN_SIGNALS.join(", ")
        }, got ${describeValue(signals)}`,
        { kind: InvalidJobKind.Other },
      );
    }
    this.#runtime = runtime;
    for (const name of runtime === null ? [] : new Set(names)) {
      const listener = () =>
        this.abort(
          new DOMException(`received ${name}: shutting down`, "AbortError"),
        );
      try {
        runtime!.add(name, listener);
      } catch {
        // Not supported here (Deno on Windows refuses SIGTERM): skip it.
        continue;
      }
      this.#onSignal.set(name, listener);
      this.#listening.push(name);
    }
  }

  /** Aborts on the first of the signals; give it to every job. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The OS signals actually listened to. */
  get listening(): readonly ShutdownSignalName[] {
    return [...this.#listening];
  }

  /**
   * Aborts now, as a signal would, and stops listening.
   *
   * @example
   * ```ts
   * import { ShutdownSignal } from "@cloudiful/scheduler";
   * const shutdown = new ShutdownSignal();
   * shutdown.abort(new Error("deploying"));
   * console.log(shutdown.signal.aborted); // true
   * ```
   */
  abort(reason?: unknown): void {
    this.dispose();
    this.#controller.abort(
      reason ?? new DOMException("shutting down", "AbortError"),
    );
  }

  /**
   * Stops listening without aborting. Idempotent.
   *
   * @example
   * ```ts
   * import { ShutdownSignal } from "@cloudiful/scheduler";
   * using shutdown = new ShutdownSignal(); // disposed at the end of the block
   * console.log(shutdown.signal.aborted); // false
   * ```
   */
  dispose(): void {
    for (const [name, listener] of this.#onSignal) {
      try {
        this.#runtime?.remove(name, listener);
      } catch {
        // Removing what could be added does not fail in practice; nothing to do.
      }
    }
    this.#onSignal.clear();
    this.#listening.length = 0;
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
