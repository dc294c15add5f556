/**
 * OpenTelemetry without loading `@opentelemetry/api` (about fifty modules)
 * until something is registered. The API keeps its registrations on one
 * global (`Symbol.for("opentelemetry.js.api.1")`); Deno with
 * `OTEL_DENO=true` fills it at start-up and an SDK fills it through the API.
 * Without a `trace` or `metrics` entry the API would hand out its no-op
 * tracer and meter and `_registered.ts` would find nothing, so the API and
 * the span and metric code load only when there is something to report to
 * (ARCHITECTURE.md, "What loads when").
 *
 * @module
 */

import { describeThrown } from "../errors.ts";
import type { AttemptSpan, AttemptTracer } from "./_attempt_span.ts";
import type { RunTelemetry } from "./_registered.ts";

/** The global the API's major version 1 registers its providers on. */
const API_GLOBAL = Symbol.for("opentelemetry.js.api.1");

const UNTRACED: AttemptSpan = { within: (fn) => fn(), end() {} };

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

type Registered = typeof import("./_registered.ts");

let registered: Registered | undefined;
let loading: Promise<Registered> | undefined;

function load(): Promise<Registered> {
  loading ??= import("./_registered.ts").then((module) => {
    registered = module;
    return module;
  });
  return loading;
}

// Registered before this module loaded (Deno's OTEL_DENO=true, an SDK set up
// first): start loading now, so that a run() after any wait finds it loaded.
if (telemetryRegistered()) load().catch(() => {}); // a run() reports it

/**
 * The telemetry of one `run()` of `target`: `undefined` when nothing is
 * registered (the usual case), so that nothing loads or waits.
 */
export function runTelemetryFor(
  target: EventTarget,
): RunTelemetryLoader | undefined {
  return telemetryRegistered() ? new RunTelemetryLoader(target) : undefined;
}

/**
 * The telemetry of one `run()`. Once the API is loaded it is what
 * `_registered.ts` gives, at once, as if it had been imported statically.
 * While it loads (the first `run()` soon after a provider was registered)
 * the engine waits for `ready` before it loads the state, so no event and no
 * attempt comes before the metrics are attached and the tracer is known.
 */
export class RunTelemetryLoader {
  /** Settles once the telemetry is loaded (never rejects); absent when it was. */
  readonly ready: Promise<void> | undefined;
  /** The attempt tracer for the engine: this loader's while it loads. */
  readonly tracer: AttemptTracer | undefined;
  #telemetry: RunTelemetry | undefined;
  #detach: (() => void) | undefined;
  #detached = false;

  /** Starts loading; the metrics, if any, are fed by `target`'s events. */
  constructor(target: EventTarget) {
    if (registered !== undefined) {
      this.#attach(registered, target);
      this.tracer = this.#telemetry?.tracer;
      return;
    }
    this.tracer = {
      start: (run, startedAt) =>
        this.#telemetry?.tracer?.start(run, startedAt) ?? UNTRACED,
    };
    this.ready = load().then(
      (module) => this.#attach(module, target),
      (thrown) => {
        // As a tracer that throws: the run goes on, unreported, and says so.
        console.error(
          `the scheduler could not load OpenTelemetry, this run is not reported: ${
            describeThrown(thrown)
          }`,
        );
      },
    );
  }

  #attach(module: Registered, target: EventTarget): void {
    if (this.#detached) return;
    this.#telemetry = module.runTelemetry();
    this.#detach = this.#telemetry?.metrics?.attach(target);
  }

  /** Counts the error `run()` rejects with, when metrics are on. */
  failed(jobId: string, error: unknown): void {
    this.#telemetry?.metrics?.failed(jobId, error);
  }

  /** Stops feeding the metrics (and keeps a late load from attaching). */
  detach(): void {
    this.#detached = true;
    this.#detach?.();
  }
}
