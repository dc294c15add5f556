/**
 * Restores `process.browser` after iovalkey (and `debug`) loaded; see
 * `_debug_env_start.ts`.
 *
 * @module
 */

const global = globalThis as {
  process?: { browser?: unknown };
  __cloudifulDebugEnv?: { had: boolean; browser: unknown };
};

const saved: { had: boolean; browser: unknown } | undefined =
  global.__cloudifulDebugEnv;
if (saved !== undefined && global.process !== undefined) {
  if (saved.had) global.process.browser = saved.browser;
  else delete global.process.browser;
  delete global.__cloudifulDebugEnv;
}
