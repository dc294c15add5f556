/**
 * What `import "@cloudiful/scheduler"` loads, counted in a fresh process
 * (`_loaded_modules.ts`: every script V8 compiled), and that the optional
 * parts load when they are used, not before: worker tasks, OpenTelemetry
 * and the Deno KV backend's calls (ARCHITECTURE.md, "What loads when").
 */
import { assert, assertEquals } from "@std/assert";
import { loadedModules } from "./_loaded_modules.ts";

/**
 * The modules `mod.ts` loads (104 since a retry's wait, which a pause holds,
 * got its module `run/_retry_wait.ts`; 103 with the JobGroup's sleeping jobs
 * and the leased writes; 111 before the Deno KV backend's
 * calls loaded on first use, and 159 before `@opentelemetry/api` did). Most are the floor: what the synchronous API
 * needs and the engine, which a `run()` starts at once so that a fake clock
 * sees its first timer. See ARCHITECTURE.md, "What loads when".
 */
const CORE_LIMIT = 104;

/** The Deno KV modules the public classes need before their first call. */
const KV_FACADE = [
  "state_store",
  "execution_guard",
  "_kv_input",
  "_guard_link",
  "_require_deno",
];

/** Modules that must not load until their feature is used. */
const OPTIONAL = [
  /^npm:/,
  /^src\/telemetry\/_(registered|attempt_span|run_metrics|names)\.ts$/,
  /^src\/scheduler\/job\/_worker_(task|spawn|host)\.ts$/,
  new RegExp(`^src/deno_kv/(?!(${KV_FACADE.join("|")})\\.ts$)`),
];

function optionalIn(modules: string[]): string[] {
  return modules.filter((module) => OPTIONAL.some((re) => re.test(module)));
}

const RUN_ONE = `
  const { InMemoryStateStore, Job, Schedule, Scheduler } = mod;
  async function runOnce(task, options = {}) {
    const scheduler = new Scheduler({}, options.store ?? new InMemoryStateStore());
    const job = Job.withoutDeps("probe", Schedule.interval(1), task).withMaxRuns(1);
    const running = scheduler.run(job);
    await scheduler.handle().idle();
    const report = await running;
    if (report.history[0]?.status !== "success") {
      throw new Error("the probe's run failed: " + JSON.stringify(report.history));
    }
  }
`;

Deno.test("import: mod.ts loads at most CORE_LIMIT modules, none of the optional parts and no npm package", async () => {
  const modules = await loadedModules(`import "@root/mod.ts";`);
  assert(
    modules.length <= CORE_LIMIT,
    `mod.ts loads ${modules.length} modules (limit ${CORE_LIMIT}):\n${
      modules.join("\n")
    }`,
  );
  assertEquals(optionalIn(modules), []);
  // The floor: every module a public name is defined in, and the engine.
  assert(modules.includes("src/scheduler/loop/_engine.ts"));
});

Deno.test("import: a run with nothing registered with OpenTelemetry loads neither the API nor the span and metric code", async () => {
  const modules = await loadedModules(`
    import * as mod from "@root/mod.ts";
    ${RUN_ONE}
    await runOnce(mod.Task.fromSync(() => {}));
  `);
  assertEquals(optionalIn(modules), []);
});

Deno.test("import: a registered meter provider loads the API and the metric code at the first run(), whose controls are attached at once", async () => {
  const modules = await loadedModules(`
    import * as mod from "@root/mod.ts";
    import { metrics } from "@opentelemetry/api";
    import { InMemoryMetricExporter, AggregationTemporality, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    const { InMemoryStateStore, Job, Schedule, Scheduler, Task } = mod;
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const job = Job.withoutDeps("probe", Schedule.cron("0 0 1 1 *"), Task.fromSync(() => {}));
    const running = scheduler.run(job);
    // Right after run(), as without telemetry: a manual run is taken.
    const record = await scheduler.handle().triggerNow();
    scheduler.handle().cancel();
    await running;
    await reader.forceFlush();
    const names = exporter.getMetrics().flatMap((m) => m.scopeMetrics)
      .flatMap((s) => s.metrics).map((m) => m.descriptor.name);
    if (record.status !== "success" || !names.includes("scheduler.runs")) {
      throw new Error("no manual run or no metric: " + JSON.stringify({ record, names }));
    }
  `);
  assert(modules.includes("src/telemetry/_registered.ts"));
  assert(modules.includes("src/telemetry/_run_metrics.ts"));
});

Deno.test("import: a meter provider registered after the import, under sinon's fake timers: the first run() loads the API before the state, and tick, idle, assert sees each run at its own instant", async () => {
  const modules = await loadedModules(`
    import FakeTimers from "@sinonjs/fake-timers";
    import { metrics } from "@opentelemetry/api";
    import { MeterProvider } from "@opentelemetry/sdk-metrics";
    import { schedule } from "@root/mod.ts";
    metrics.setGlobalMeterProvider(new MeterProvider());
    const clock = FakeTimers.install({ now: Date.UTC(2026, 3, 3) });
    const ran = [];
    const job = schedule({ everyMs: 5 * 60_000 }, ({ run }) => {
      const at = (date) => date.toISOString().slice(11, 16);
      ran.push(at(run.scheduledAt) + "@" + at(new Date()));
    });
    // As docs/observability.md advises: idle() also waits for the load.
    await job.idle();
    await clock.tickAsync(25 * 60_000);
    await job.idle();
    job.cancel();
    await job.done;
    clock.uninstall();
    const expected = ["00:05", "00:10", "00:15", "00:20", "00:25"]
      .map((at) => at + "@" + at);
    if (JSON.stringify(ran) !== JSON.stringify(expected)) {
      throw new Error("ran " + JSON.stringify(ran));
    }
  `);
  assert(modules.includes("src/telemetry/_run_metrics.ts"));
});

Deno.test("import: with OTEL_DENO=true (providers registered at start-up) importing mod.ts starts loading the API and the span and metric code", async () => {
  const modules = await loadedModules(
    `import "@root/mod.ts"; await new Promise((resolve) => setTimeout(resolve, 200));`,
    { OTEL_DENO: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" },
  );
  assert(modules.includes("src/telemetry/_registered.ts"));
  assert(modules.includes("src/telemetry/_attempt_span.ts"));
});

Deno.test("import: a worker task loads the worker machinery when it first runs, not when it is defined", async () => {
  const defined = await loadedModules(`
    import { Task } from "@root/mod.ts";
    Task.fromWorker(new URL("@root/tests/fixtures/worker_tasks.ts"));
  `);
  assertEquals(optionalIn(defined), []);
  const ran = await loadedModules(`
    import * as mod from "@root/mod.ts";
    ${RUN_ONE}
    await runOnce(mod.Task.fromWorker(new URL("@root/tests/fixtures/worker_tasks.ts")));
  `);
  assert(ran.includes("src/scheduler/job/_worker_task.ts"));
  assert(ran.includes("src/scheduler/job/_worker_spawn.ts"));
});

Deno.test("import: the Deno KV store and guard load their calls at the first one, not when built; sharesWith answers before", async () => {
  const built = await loadedModules(`
    import { DenoKvExecutionGuard, DenoKvStateStore } from "@root/mod.ts";
    const kv = await Deno.openKv(":memory:");
    const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
    if (!new DenoKvStateStore(kv).sharesWith(guard)) throw new Error("not shared");
    kv.close();
  `);
  assertEquals(optionalIn(built), []);
  assert(built.includes("src/deno_kv/state_store.ts"));
  const used = await loadedModules(`
    import * as mod from "@root/mod.ts";
    const kv = await Deno.openKv(":memory:");
    const guard = new mod.DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
    const store = new mod.DenoKvStateStore(kv);
    const scheduler = mod.Scheduler.withExecutionGuard({}, store, guard);
    const job = mod.Job.withoutDeps("probe", mod.Schedule.interval(1), mod.Task.fromSync(() => {})).withMaxRuns(1);
    await scheduler.run(job);
    kv.close();
  `);
  for (const module of ["_kv_store", "_leased_writes", "_guard_parts"]) {
    assert(used.includes(`src/deno_kv/${module}.ts`), module);
  }
});
