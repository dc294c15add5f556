/**
 * A broken tracer never costs a run: when the registered tracer throws, the
 * attempt runs untraced, succeeds, and the failure is reported.
 */
import assert from "node:assert/strict";
import { trace, type Tracer } from "@opentelemetry/api";
import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "../mod.ts";

Deno.test("a tracer that throws leaves the run untraced and successful, and says so on console.error", async () => {
  const tracer = {
    startSpan: () => {
      throw new Error("broken SDK");
    },
  } as unknown as Tracer;
  assert.ok(trace.setGlobalTracerProvider({ getTracer: () => tracer }));
  const errors: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  try {
    let ran = 0;
    const job = Job.withoutDeps(
      "untraced",
      Schedule.atTimes([Date.now() + 5]),
      Task.fromSync(() => {
        ran++;
      }),
    );
    const report = await new Scheduler({}, new InMemoryStateStore()).run(job);
    assert.equal(ran, 1);
    assert.deepEqual(report.history.map((run) => run.status), ["success"]);
    assert.deepEqual(errors, [
      "the scheduler could not open a span: Error: broken SDK",
    ]);
  } finally {
    console.error = original;
    trace.disable();
  }
});
