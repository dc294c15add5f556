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
import type { RunContext } from "../scheduler/job/task_context.ts";

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

/**
 * The telemetry of one `run()` while it loads: the engine waits for `ready`
 * before it loads the state, so no event and no attempt comes before the
 * metrics are attached and the tracer is known; from then on `start` is the
 * registered tracer's (or opens no span, when only a meter is registered).
 */
export class RunTelemetryLoader implements AttemptTracer {
  /** Settles once the telemetry is loaded; never rejects. */
  readonly ready: Promise<void>;
  #telemetry: RunTelemetry | undefined;
  #detach: (() => void) | undefined;
  #detached = false;

  /** Starts loading; the metrics, if any, are fed by `target`'s events. */
  constructor(target: EventTarget) {
    this.ready = import("./_registered.ts").then(({ runTelemetry }) => {
      if (this.#detached) return;
      this.#telemetry = runTelemetry();
      this.#detach = this.#telemetry?.metrics?.attach(target);
    }).catch((thrown) => {
      // As a tracer that throws: the run goes on, unreported, and says so.
      console.error(
        `the scheduler could not load OpenTelemetry, this run is not reported: ${
          describeThrown(thrown)
        }`,
      );
    });
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

  start(run: RunContext, startedAt: number): AttemptSpan {
    const tracer = this.#telemetry?.tracer;
    return tracer === undefined ? UNTRACED : tracer.start(run, startedAt);
  }
}
