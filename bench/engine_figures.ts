/**
 * Engine figures, printed (run with `deno task bench`):
 *
 * 1. Replay: a replay-all backlog of 100 000 due occurrences with a no-op
 *    task and the in-memory store, beside a bare loop that awaits the same
 *    task 100 000 times, rounds interleaved. Aim: ≤ 1 µs per run and ≤ 100×
 *    the bare `await`. Then what each run control adds per run
 *    (`withRunTimeout`, `withRetry`, at-least-once on the default in-memory
 *    single-instance guard, where nothing could be reclaimed; aim: ≤ 0.5 µs
 *    each), and the `Date` objects a run allocates (aim: ≤ 3). At-least-once
 *    on a guard with an in-flight ledger is figure 5.
 * 2. Memory: heap growth over 1 000 000 runs with historyLimit 32. Aim: under
 *    10 MB.
 * 3. Lateness (start − scheduled) p50/p99 of a 50 ms interval over 200 real
 *    runs, beside raw setTimeout lateness on the same fixed-rate targets.
 * 4. OpenTelemetry: the backlog of figure 1 with nothing registered with
 *    `@opentelemetry/api` beside the same backlog with a tracer and a meter
 *    registered that record nothing (the cost of the span and metric paths
 *    themselves), interleaved; and what asking whether anything is registered
 *    costs (once per `run()`). With nothing registered a run only checks two
 *    fields for `undefined`; the cost of the paths that gate skips is the
 *    registered/nothing ratio. (The same backlog on the commit before
 *    telemetry, interleaved with this one: within the run-to-run noise; see
 *    docs/observability.md.)
 * 5. At-least-once: a backlog of 2 000 runs on `DenoKvExecutionGuard` over
 *    `Deno.openKv(":memory:")` (a fresh one per round) with its in-flight
 *    ledger, beside the same backlog on the same guard at-most-once (the
 *    floor: the same grants and saves, without the records), interleaved.
 *    The state store is in memory, so each run makes the guard's own calls;
 *    with `DenoKvStateStore` on the same `Deno.Kv` (one commit before a run,
 *    one after) the figure is `bench/kv_figures.ts` figure 3.
 * 6. Steady firing under `@sinonjs/fake-timers`: an interval job on the
 *    in-memory store driven by `tickAsync()`, beside a bare `setTimeout`
 *    chain on the same fake clock (`bench/_steady_firing.ts`). Aim: ≤ 3×.
 *
 * Needs `--v8-flags=--expose-gc` for the memory figure.
 */
import {
  DenoKvExecutionGuard,
  type ExecutionGuard,
  InMemoryStateStore,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  Task,
  type TaskContext,
} from "../mod.ts";
import {
  INVALID_SPAN_CONTEXT,
  type Meter,
  metrics,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { telemetryRegistered } from "../src/telemetry/_gate.ts";
import { printSteadyFiring } from "./_steady_firing.ts";

const gc = (globalThis as { gc?: () => void }).gc;

type Controls = (job: Job<undefined>) => Job<undefined>;
const plain: Controls = (job) => job;

async function backlog(
  runs: number,
  historyLimit: number,
  controls: Controls = plain,
  guard?: ExecutionGuard,
): Promise<number> {
  const store = new InMemoryStateStore();
  const now = Date.now();
  await store.save({
    jobId: "backlog",
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(now - runs),
    lastError: null,
  });
  const job = controls(
    Job.withoutDeps(
      "backlog",
      Schedule.interval(1),
      Task.fromAsync(noop),
    ).withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(runs),
  );
  const started = performance.now();
  const report =
    await (guard === undefined
      ? new Scheduler({ historyLimit }, store)
      : Scheduler.withExecutionGuard({ historyLimit }, store, guard)).run(job);
  const elapsed = performance.now() - started;
  if (report.state.triggerCount !== runs) {
    throw new Error(`expected ${runs} runs, got ${report.state.triggerCount}`);
  }
  return elapsed;
}

async function noop(_context: TaskContext<undefined>): Promise<void> {}

async function bareLoop(runs: number): Promise<number> {
  const context = {
    run: {
      jobId: "bare",
      scheduledAt: new Date(),
      catchUp: false,
      timezone: "UTC",
      triggerCount: 0,
      attempt: 1,
      jitterMs: 0,
      manual: false,
    },
    deps: undefined,
    signal: new AbortController().signal,
  };
  const started = performance.now();
  for (let i = 0; i < runs; i++) await noop(context);
  return performance.now() - started;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function schedulerLateness(
  runs: number,
  everyMs: number,
): Promise<number[]> {
  const job = Job.withoutDeps(
    "lateness",
    Schedule.interval(everyMs),
    Task.fromSync(() => {}),
  ).withMaxRuns(runs);
  const report = await new Scheduler(
    { historyLimit: runs },
    new InMemoryStateStore(),
  )
    .run(job);
  return report.history.map((r) =>
    r.startedAt.getTime() - r.scheduledAt.getTime()
  );
}

function timeoutLateness(runs: number, everyMs: number): Promise<number[]> {
  return new Promise((resolve) => {
    const start = Date.now();
    const lateness: number[] = [];
    const arm = (k: number) => {
      const target = start + k * everyMs;
      setTimeout(() => {
        lateness.push(Date.now() - target);
        if (k === runs) resolve(lateness);
        else arm(k + 1);
      }, Math.max(0, target - Date.now()));
    };
    arm(1);
  });
}

const RUNS = 100_000;
// The best of 7 interleaved rounds: on a machine shared with other work a
// round can only be slowed down, never sped up, so the fastest one is the
// code's own cost (for the bare loop as much as for the engine).
const best = (values: number[]) => Math.min(...values);
const CONTROLS: [string, Controls][] = [
  ["withRunTimeout(60 000)", (job) => job.withRunTimeout(60_000)],
  ["withRetry({ attempts: 3 })", (job) => job.withRetry({ attempts: 3 })],
  [
    'withDelivery("at-least-once"), in-memory guard',
    (job) => job.withDelivery("at-least-once"),
  ],
];
for (let i = 0; i < 3; i++) {
  await backlog(RUNS, 32); // warm up the JIT on every path
  await bareLoop(RUNS);
  for (const [, controls] of CONTROLS) await backlog(RUNS, 32, controls);
}
const engineTimes: number[] = [];
const bareTimes: number[] = [];
const controlTimes = CONTROLS.map(() => [] as number[]);
for (let i = 0; i < 7; i++) {
  engineTimes.push(await backlog(RUNS, 32));
  bareTimes.push(await bareLoop(RUNS));
  for (const [index, [, controls]] of CONTROLS.entries()) {
    controlTimes[index].push(await backlog(RUNS, 32, controls));
  }
}
const engineMs = best(engineTimes);
const bareMs = best(bareTimes);
const µsPerRun = (ms: number) => ms * 1000 / RUNS;
console.log("1. replay-all backlog, no-op task, in-memory store (best of 7)");
console.log(
  `   engine: ${RUNS} runs in ${engineMs.toFixed(0)} ms = ${
    Math.round(RUNS / engineMs * 1000)
  } runs/s, ${µsPerRun(engineMs).toFixed(2)} µs per run (aim: ≤ 1 µs)`,
);
console.log(
  `   bare loop: ${RUNS} awaits in ${bareMs.toFixed(1)} ms = ${
    (bareMs * 1e6 / RUNS).toFixed(1)
  } ns per await`,
);
console.log(
  `   ratio engine/bare: ${(engineMs / bareMs).toFixed(0)}× (aim: ≤ 100×)`,
);
for (const [index, [name]] of CONTROLS.entries()) {
  const ms = best(controlTimes[index]);
  console.log(
    `   ${name}: ${µsPerRun(ms).toFixed(2)} µs per run, ${
      signed(µsPerRun(ms) - µsPerRun(engineMs))
    } µs (aim: ≤ +0.5 µs)`,
  );
}
console.log(
  `   Date objects per run: ${await datesPerRun(
    1_000,
  )} (aim: ≤ 3; the state loaded and the report, once per run(), left out)`,
);

function signed(value: number): string {
  return `${value < 0 ? "−" : "+"}${Math.abs(value).toFixed(2)}`;
}

/**
 * `Date` objects the engine makes per run of a replay (counted, not timed):
 * the difference between a backlog of `2 × runs` and one of `runs`, so what
 * each `run()` makes once (the state loaded, the report) is left out.
 */
async function datesPerRun(runs: number): Promise<string> {
  const twice = await datesMade(2 * runs);
  return ((twice - await datesMade(runs)) / runs).toFixed(2);
}

async function datesMade(runs: number): Promise<number> {
  const Original = globalThis.Date;
  let made = 0;
  // Counts `new Date(…)`; `Date.now()` is inherited and allocates nothing.
  globalThis.Date = class extends Original {
    constructor(...args: ConstructorParameters<DateConstructor>) {
      super(...args);
      made++;
    }
  } as DateConstructor;
  try {
    await backlog(runs, 32);
  } finally {
    globalThis.Date = Original;
  }
  return made;
}

if (gc) {
  gc();
  const before = Deno.memoryUsage().heapUsed;
  await backlog(1_000_000, 32);
  gc();
  const after = Deno.memoryUsage().heapUsed;
  console.log("2. heap growth over 1 000 000 runs, historyLimit 32");
  console.log(
    `   ${((after - before) / 1024 / 1024).toFixed(2)} MB (aim: under 10 MB)`,
  );
} else {
  console.log("2. heap growth: skipped (run with --v8-flags=--expose-gc)");
}

const [engineLate, timeoutLate] = [
  (await schedulerLateness(200, 50)).sort((a, b) => a - b),
  (await timeoutLateness(200, 50)).sort((a, b) => a - b),
];
console.log(
  "3. lateness of a 50 ms interval over 200 real runs (start − scheduled)",
);
console.log(
  `   scheduler: p50 ${percentile(engineLate, 0.5)} ms, p99 ${
    percentile(engineLate, 0.99)
  } ms, max ${engineLate.at(-1)} ms`,
);
console.log(
  `   raw setTimeout: p50 ${percentile(timeoutLate, 0.5)} ms, p99 ${
    percentile(timeoutLate, 0.99)
  } ms, max ${timeoutLate.at(-1)} ms`,
);

/** Registers a tracer and a meter that record nothing; returns the undo. */
function registerSilentTelemetry(): () => void {
  const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  const tracer = { startSpan: () => span } as unknown as Tracer;
  const instrument = { add() {}, record() {} };
  const meter = {
    createCounter: () => instrument,
    createHistogram: () => instrument,
  } as unknown as Meter;
  trace.setGlobalTracerProvider({ getTracer: () => tracer });
  metrics.setGlobalMeterProvider({ getMeter: () => meter });
  return () => {
    trace.disable();
    metrics.disable();
  };
}

const plainTimes: number[] = [];
const silentTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  plainTimes.push(await backlog(RUNS, 32));
  const undo = registerSilentTelemetry();
  try {
    silentTimes.push(await backlog(RUNS, 32));
  } finally {
    undo();
  }
}
const asks = 100_000;
const askStarted = performance.now();
for (let i = 0; i < asks; i++) telemetryRegistered();
const askNs = (performance.now() - askStarted) * 1e6 / asks;
const plainUs = best(plainTimes) * 1000 / RUNS;
const silentUs = best(silentTimes) * 1000 / RUNS;
console.log(
  "4. OpenTelemetry cost per run (figure 1's backlog, best of 5, interleaved)",
);
console.log(
  `   nothing registered: ${
    plainUs.toFixed(2)
  } µs per run (the same code as figure 1, measured again: ${
    (plainUs / (engineMs * 1000 / RUNS)).toFixed(2)
  }× of it, which is the noise between two measurements)`,
);
console.log(
  `   registered, recording nothing: ${
    silentUs.toFixed(2)
  } µs per run; ratio to nothing registered ${
    (silentUs / plainUs).toFixed(2)
  }× (the span and metric paths the gate skips)`,
);
console.log(
  `   asking whether anything is registered: ${
    askNs.toFixed(0)
  } ns, once per run(): ${
    (askNs / 1000 / RUNS).toExponential(1)
  } µs per run of a ${RUNS}-run backlog`,
);

/** The backlog on a fresh in-memory Deno KV guard, at `delivery`. */
async function kvBacklog(
  runs: number,
  delivery: "at-most-once" | "at-least-once",
): Promise<number> {
  const kv = await Deno.openKv(":memory:");
  try {
    const guard = new DenoKvExecutionGuard(kv, {
      ttlMs: 60_000,
      renewIntervalMs: 20_000,
    });
    return await backlog(
      runs,
      32,
      (job) => job.withDelivery(delivery),
      guard,
    );
  } finally {
    kv.close();
  }
}

const KV_RUNS = 2_000;
await kvBacklog(KV_RUNS, "at-most-once"); // warm up both paths
await kvBacklog(KV_RUNS, "at-least-once");
const kvMostTimes: number[] = [];
const kvLeastTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  kvMostTimes.push(await kvBacklog(KV_RUNS, "at-most-once"));
  kvLeastTimes.push(await kvBacklog(KV_RUNS, "at-least-once"));
}
const kvMostUs = best(kvMostTimes) * 1000 / KV_RUNS;
const kvLeastUs = best(kvLeastTimes) * 1000 / KV_RUNS;
console.log(
  `5. at-least-once on DenoKvExecutionGuard over Deno.openKv(":memory:"), in-memory state store (the guard's own calls; on one Deno.Kv with DenoKvStateStore: kv_figures.ts figure 3), ${KV_RUNS}-run backlog (best of 5, interleaved)`,
);
console.log(
  `   at-most-once, same guard (the floor): ${kvMostUs.toFixed(1)} µs per run`,
);
console.log(
  `   at-least-once: ${kvLeastUs.toFixed(1)} µs per run, ${
    signed(kvLeastUs - kvMostUs)
  } µs, ratio ${(kvLeastUs / kvMostUs).toFixed(2)}×`,
);

await printSteadyFiring();
