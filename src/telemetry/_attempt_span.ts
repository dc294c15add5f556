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
import { ATTR, spanName } from "./_names.ts";

/** How an attempt ended, as its span records it. */
export interface AttemptEnd {
  readonly status: RunStatus;
  readonly error: string | null;
  /** When the task settled (ms): the span ends there, as the run record does. */
  readonly finishedAt: number;
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

const UNTRACED: AttemptSpan = { within: (fn) => fn(), end() {} };

class OtelAttemptSpan implements AttemptSpan {
  readonly #span: Span;
  constructor(span: Span) {
    this.#span = span;
  }

  within<T>(fn: () => Promise<T>): Promise<T> {
    return context.with(trace.setSpan(context.active(), this.#span), fn);
  }

  end(outcome: AttemptEnd): void {
    try {
      this.#record(outcome);
    } catch (thrown) {
      console.error(`the scheduler could not end a span: ${thrown}`);
    }
  }

  #record(outcome: AttemptEnd): void {
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
    span.end(outcome.finishedAt);
  }
}

/** The tracer of the library's scope, from the registered provider. */
export class OtelAttemptTracer implements AttemptTracer {
  readonly #tracer: Tracer;
  /** Spans come from `tracer`, the library's scope of the registered provider. */
  constructor(tracer: Tracer) {
    this.#tracer = tracer;
  }

  start(run: RunContext, startedAt: number): AttemptSpan {
    try {
      return new OtelAttemptSpan(this.#open(run, startedAt));
    } catch (thrown) {
      // A broken SDK must not stop the run: it runs untraced.
      console.error(`the scheduler could not open a span: ${thrown}`);
      return UNTRACED;
    }
  }

  #open(run: RunContext, startedAt: number): Span {
    const scheduledAt = run.scheduledAt.getTime();
    return this.#tracer.startSpan(spanName(run.jobId), {
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
  }
}
