/**
 * The one OpenTelemetry question the core asks without loading
 * `@opentelemetry/api` (about fifty modules): has anything registered a
 * tracer or meter provider? The API keeps its registrations on one global
 * (`Symbol.for("opentelemetry.js.api.1")`); Deno with `OTEL_DENO=true` fills
 * it at start-up and an SDK fills it through the API. Without a `trace` or
 * `metrics` entry the API would hand out its no-op tracer and meter, so
 * `_registered.ts` would find nothing: the API and the span and metric code
 * load only when there is something to report to (ARCHITECTURE.md, "What
 * loads when").
 *
 * @module
 */

import type { RunTelemetry } from "./_registered.ts";

/** The global the API's major version 1 registers its providers on. */
const API_GLOBAL = Symbol.for("opentelemetry.js.api.1");

/**
 * Whether a tracer or meter provider may be registered: when false, a run
 * has no telemetry and nothing is loaded.
 */
export function telemetryRegistered(): boolean {
  const registry = (globalThis as Record<symbol, unknown>)[API_GLOBAL] as
    | { trace?: unknown; metrics?: unknown }
    | undefined;
  return registry?.trace !== undefined || registry?.metrics !== undefined;
}

/**
 * The telemetry of a run about to start, loading the API and the span and
 * metric code on the first call (they stay loaded).
 */
export async function loadRunTelemetry(): Promise<RunTelemetry | undefined> {
  const { runTelemetry } = await import("./_registered.ts");
  return runTelemetry();
}
