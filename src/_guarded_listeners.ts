/**
 * Listener bookkeeping that keeps an `EventTarget`'s listeners from breaking
 * the code that dispatches.
 *
 * Deno treats an exception thrown by an `EventTarget` listener as uncaught and
 * ends the process; a scheduler must not die because an observer has a bug.
 * Every listener is wrapped: a throw (or a rejected promise returned by an
 * async listener) is reported with `console.error` and otherwise ignored. It
 * also counts listeners per type, so events nobody listens to are never built.
 *
 * Classes use it from their `addEventListener` / `removeEventListener`
 * overrides, passing the native methods.
 *
 * @module
 */

type Listener = EventListenerOrEventListenerObject;
type Add = (
  type: string,
  listener: Listener | null,
  options?: boolean | AddEventListenerOptions,
) => void;
type Remove = (
  type: string,
  listener: Listener | null,
  options?: boolean | EventListenerOptions,
) => void;

function captureOf(
  options: boolean | EventListenerOptions | undefined,
): boolean {
  return typeof options === "boolean" ? options : options?.capture === true;
}

function reportListenerError(type: string, error: unknown): void {
  console.error(
    `a "${type}" event listener threw; the event was still delivered to the others:`,
    error,
  );
}

/** Wrapped listeners of one event target. */
export class GuardedListeners {
  readonly #target: EventTarget;
  readonly #add: Add;
  readonly #remove: Remove;
  readonly #wrappers = new Map<string, Map<Listener, EventListener>>();
  readonly #counts = new Map<string, number>();
  /** Detaches a registration's abort listener when it is removed by hand. */
  readonly #forgetters = new WeakMap<EventListener, () => void>();

  /**
   * @param target The event target (the `this` of listener calls).
   * @param add The target's native `addEventListener`.
   * @param remove The target's native `removeEventListener`.
   */
  constructor(target: EventTarget, add: Add, remove: Remove) {
    this.#target = target;
    this.#add = add;
    this.#remove = remove;
  }

  /** Whether anyone listens for `type`. */
  has(type: string): boolean {
    return (this.#counts.get(type) ?? 0) > 0;
  }

  /** Adds a wrapped listener. */
  add(
    type: string,
    listener: Listener | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (listener === null) return;
    const key = `${captureOf(options)}:${type}`;
    let byListener = this.#wrappers.get(key);
    if (byListener === undefined) {
      byListener = new Map();
      this.#wrappers.set(key, byListener);
    }
    if (byListener.has(listener)) return;
    const signal = typeof options === "object" ? options.signal : undefined;
    if (signal?.aborted) return;
    const once = typeof options === "object" && options.once === true;
    const target = this.#target;
    // Forgets this registration only: the same listener may have been
    // removed and added again since.
    const forget = () => {
      if (byListener.get(listener) !== wrapper) return;
      byListener.delete(listener);
      this.#counts.set(type, (this.#counts.get(type) ?? 1) - 1);
      signal?.removeEventListener("abort", forget);
    };
    const wrapper: EventListener = (event) => {
      if (once) forget();
      try {
        const result: unknown = typeof listener === "function"
          ? listener.call(target, event)
          : listener.handleEvent(event);
        if (
          typeof result === "object" && result !== null &&
          typeof (result as PromiseLike<unknown>).then === "function"
        ) {
          Promise.resolve(result).catch((error) =>
            reportListenerError(type, error)
          );
        }
      } catch (error) {
        reportListenerError(type, error);
      }
    };
    byListener.set(listener, wrapper);
    this.#counts.set(type, (this.#counts.get(type) ?? 0) + 1);
    if (signal !== undefined) {
      signal.addEventListener("abort", forget, { once: true });
      this.#forgetters.set(
        wrapper,
        () => signal.removeEventListener("abort", forget),
      );
    }
    this.#add(type, wrapper, options);
  }

  /** Removes a listener added with {@linkcode add}. */
  remove(
    type: string,
    listener: Listener | null,
    options?: boolean | EventListenerOptions,
  ): void {
    if (listener === null) return;
    const byListener = this.#wrappers.get(`${captureOf(options)}:${type}`);
    const wrapper = byListener?.get(listener);
    if (wrapper === undefined) {
      // EventTarget itself removes `once` and `signal` listeners by calling
      // removeEventListener with the wrapper.
      this.#remove(type, listener, options);
      return;
    }
    byListener!.delete(listener);
    this.#counts.set(type, (this.#counts.get(type) ?? 1) - 1);
    this.#forgetters.get(wrapper)?.();
    this.#remove(type, wrapper, options);
  }
}
