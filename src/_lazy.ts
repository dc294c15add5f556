/**
 * A part of the library loaded on first use: a string-literal `import()`
 * (which `deno publish` analyses and `tools/runtimes/` keeps external),
 * started once and shared by every caller; what is loaded is then at hand
 * synchronously, so that later calls pay no promise hop for it
 * (ARCHITECTURE.md, "What loads when").
 *
 * Runtime-neutral.
 *
 * @module
 */

/** A module loaded on first use. */
export interface Lazy<T> {
  /** The module, once loaded. */
  readonly now: T | undefined;
  /** Loads the module (once) and resolves with it. */
  load(): Promise<T>;
}

/**
 * A {@linkcode Lazy} of what `load` imports; `load` must be
 * `() => import("./literal.ts")`.
 */
export function lazy<T>(load: () => Promise<T>): Lazy<T> {
  let loading: Promise<T> | undefined;
  const part = {
    now: undefined as T | undefined,
    load(): Promise<T> {
      loading ??= load().then(
        (module) => part.now = module,
        (error) => {
          loading = undefined; // a failed read may be tried again
          throw error;
        },
      );
      return loading;
    },
  };
  return part;
}
