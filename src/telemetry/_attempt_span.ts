/**
 * The span of one run attempt. The task runs inside the span's context, so
 * whatever the task traces (a `fetch`, a query) becomes its child. Built only
 * when a tracer provider is registered (see `_registered.ts`); otherwise the
 * attempt never reaches this file.
 *
 * @module
 */

import {
  context,
  type Span,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { RunStatus } from "../constants.ts";
import type { RunContext } from "../scheduler/job/task_context.ts";
import { ATTR, SCOPE, spanName } from "./_names.ts";

/** How an attempt ended, as its span records it. */
export interface AttemptEnd {
  readonly status: RunStatus;
  readonly error: string | null;
}

/** One attempt's open span. */
export interface AttemptSpan {
  /** Runs `fn` with this span as the active context. */
  within<T>(fn: () => Promise<T>): Promise<T>;
  /** Records the outcome and ends the span. */
  end(outcome: AttemptEnd): void;
}

/** Opens the span of each attempt. */
export interface AttemptTracer {
  /** Opens the span of the attempt `run`, started at `startedAt` (ms). */
  start(run: RunContext, startedAt: number): AttemptSpan;
}

class OtelAttemptSpan implements AttemptSpan {
  readonly #span: Span;
  constructor(span: Span) {
    this.#span = span;
  }

  within<T>(fn: () => Promise<T>): Promise<T> {
    return context.with(trace.setSpan(context.active(), this.#span), fn);
  }

  end(outcome: AttemptEnd): void {
    const span = this.#span;
    span.setAttribute(ATTR.status, outcome.status);
    if (outcome.status !== RunStatus.Success) {
      // error.type: a low-cardinality class of failure (the status), the
      // message goes to the span status.
      span.setAttribute(ATTR.errorType, outcome.status);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        ...(outcome.error === null ? {} : { message: outcome.error }),
      });
    }
    span.end();
  }
}

/** The tracer of the library's scope, from the registered provider. */
export class OtelAttemptTracer implements AttemptTracer {
  readonly #tracer: Tracer;
  constructor() {
    this.#tracer = trace.getTracer(SCOPE);
  }

  start(run: RunContext, startedAt: number): AttemptSpan {
    const scheduledAt = run.scheduledAt.getTime();
    const span = this.#tracer.startSpan(spanName(run.jobId), {
      startTime: startedAt,
      attributes: {
        [ATTR.jobId]: run.jobId,
        [ATTR.scheduledAt]: run.scheduledAt.toISOString(),
        [ATTR.lateness]: Math.max(0, startedAt - scheduledAt) / 1000,
        [ATTR.triggerCount]: run.triggerCount,
        [ATTR.attempt]: run.attempt,
        // A bigint is no attribute value; a string keeps every digit.
        ...(run.fencingToken === undefined
          ? {}
          : { [ATTR.fencingToken]: run.fencingToken.toString() }),
        [ATTR.replayed]: run.replayed === true,
        [ATTR.manual]: run.manual,
        [ATTR.catchUp]: run.catchUp,
      },
    });
    return new OtelAttemptSpan(span);
  }
}
