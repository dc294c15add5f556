/**
 * Why this exists: iovalkey loads `debug`, whose Node build enumerates the
 * whole environment (`Object.keys(process.env)`) as it loads, which Deno
 * allows only with an unscoped `--allow-env`. Its browser build reads the one
 * variable `DEBUG`. On Deno, this module (imported just before iovalkey) makes
 * `debug` pick its browser build, and `_debug_env_end.ts` (imported just
 * after) restores `process.browser`, so `--allow-env=DEBUG` is enough.
 * Elsewhere (Node, Bun) it does nothing.
 *
 * @module
 */

interface ProcessFlags {
  browser?: unknown;
}

const global = globalThis as {
  Deno?: unknown;
  process?: ProcessFlags;
  __cloudifulDebugEnv?: { had: boolean; browser: unknown };
};

if (global.Deno !== undefined && global.process !== undefined) {
  const process = global.process;
  global.__cloudifulDebugEnv = {
    had: "browser" in process,
    browser: process.browser,
  };
  process.browser = true;
}
