/**
 * An `EventTarget` whose listeners cannot break the code that dispatches:
 * the base of the stores and guards that report events (`store-degraded`,
 * `fencing-reset`...).
 *
 * @module
 */

import { GuardedListeners } from "../_guarded_listeners.ts";

/**
 * An `EventTarget` whose listeners are isolated: one that throws (or
 * returns a rejected promise) is logged and the others still run — Deno
 * would otherwise end the process.
 *
 * @example
 * ```ts
 * import { DenoKvExecutionGuard } from "@cloudiful/scheduler";
 * const kv = await Deno.openKv(":memory:");
 * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
 * guard.addEventListener("fencing-reset", (event) => {
 *   console.warn("fencing counter was reset", (event as CustomEvent).detail);
 * });
 * kv.close();
 * ```
 */
export class GuardedEventTarget extends EventTarget {
  readonly #listeners = new GuardedListeners(
    this,
    (type, listener, options) =>
      super.addEventListener(type, listener, options),
    (type, listener, options) =>
      super.removeEventListener(type, listener, options),
  );

  /**
   * Adds a listener; a throwing one is logged and does not disturb others.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * guard.addEventListener("fencing-reset", () => console.warn("reset"));
   * kv.close();
   * ```
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    this.#listeners.add(type, listener, options);
  }

  /**
   * Removes a listener added with `addEventListener`.
   *
   * @example
   * ```ts
   * import { DenoKvExecutionGuard } from "@cloudiful/scheduler";
   * const kv = await Deno.openKv(":memory:");
   * const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
   * const listener = () => {};
   * guard.addEventListener("fencing-reset", listener);
   * guard.removeEventListener("fencing-reset", listener);
   * kv.close();
   * ```
   */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    this.#listeners.remove(type, listener, options);
  }
}
