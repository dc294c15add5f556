/**
 * Deno KV figures, printed (run with `deno run -A bench/kv_figures.ts`):
 *
 * 1. KV commits and reads per run, counted: a real `Deno.Kv` on `:memory:`
 *    behind a counting proxy that counts every write commit (`set`,
 *    `delete`, each `commit()` of an `atomic()` operation) and every read
 *    (`get`, `getMany`, `list`). A replay-all backlog of 200 runs with a
 *    no-op task, with `DenoKvStateStore` alone, then with a
 *    `DenoKvExecutionGuard` on the same KV, at-most-once and at-least-once,
 *    on the separate path (a guard call and a save each, as before the
 *    store wrote the guard's leases) beside the single commit before and
 *    after a run (`LeasedStateWrites`). Aims: at most 2 commits per run for
 *    the store; store + guard 1 commit before a run and 1 after and ≤ 2
 *    reads per run, at-least-once included.
 * 2. Throughput: a replay-all backlog of 5 000 due occurrences with a no-op
 *    task, `DenoKvStateStore` on `:memory:` and on a temporary file, each with
 *    and without the KV guard, beside `InMemoryStateStore` for scale.
 * 3. The at-least-once cost in time on the real KV ledger: a 2 000-run
 *    backlog on a fresh `:memory:` KV per round, at-least-once beside
 *    at-most-once (the floor: the same grants and saves, without replay), on
 *    both paths, best of 7, interleaved.
 */
import {
  type Delivery,
  DenoKvExecutionGuard,
  DenoKvStateStore,
  type ExecutionGuard,
  InMemoryStateStore,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  type StateStore,
  Task,
  type TaskContext,
} from "../mod.ts";
import { countingKv, isCommit, isRead, KvCounts } from "./_kv_counting.ts";
import { type KvPath, onPath } from "./_kv_paths.ts";

const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };

// ---------------------------------------------------------------------------
// Backlog runner

let taskRuns = 0;
function noop(_context: TaskContext<undefined>): Promise<void> {
  taskRuns++;
  return Promise.resolve();
}

/** A backlog to run. */
interface Backlog {
  /** Due occurrences, replayed. */
  runs: number;
  store: StateStore;
  /** Saves the first state (uncounted); the store by default. */
  seed?: StateStore;
  guard?: ExecutionGuard;
  jobId?: string;
  delivery?: Delivery;
}

/**
 * Runs a replay-all backlog of due occurrences (interval 1 ms, stored
 * `nextRunAt` = now − runs ms) and returns the elapsed milliseconds of
 * `run()`.
 */
async function backlog(options: Backlog): Promise<number> {
  const { runs, store, guard, jobId = "backlog" } = options;
  await (options.seed ?? store).save({
    jobId,
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(Date.now() - runs),
    lastError: null,
  });
  const job = Job.withoutDeps(jobId, Schedule.interval(1), Task.fromAsync(noop))
    .withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(runs)
    .withDelivery(options.delivery ?? "at-most-once");
  const scheduler = new Scheduler({}, store, guard ? { guard } : {});
  const before = taskRuns;
  const started = performance.now();
  const report = await scheduler.run(job);
  const elapsed = performance.now() - started;
  const ran = taskRuns - before;
  if (report.state.triggerCount !== runs || ran !== runs) {
    throw new Error(
      `expected ${runs} runs, got triggerCount ${report.state.triggerCount} and ${ran} task runs`,
    );
  }
  return elapsed;
}

const DELIVERIES: Delivery[] = ["at-most-once", "at-least-once"];
const PATHS: KvPath[] = ["separate", "single commit"];
const PATH_LABELS: Record<KvPath, string> = {
  "separate": "separate path (before)",
  "single commit": "single commit (now)",
};

// ---------------------------------------------------------------------------
// 1. Commits per run

const N = 200;
const fmt = (value: number) => value.toFixed(2);
const verdict = (met: boolean) => (met ? "met" : "NOT MET");

function printBreakdown(
  counts: KvCounts,
  runs: number,
  indent = "     ",
): void {
  for (const [area, operations] of counts.entries()) {
    const parts = operations.map(([operation, count]) =>
      `${operation} ${count} (${fmt(count / runs)}/run)`
    );
    console.log(`${indent}[${area}] ${parts.join(", ")}`);
  }
}

{
  const raw = await Deno.openKv(":memory:");
  try {
    const counts = new KvCounts();
    const kv = countingKv(raw, counts);
    const seed = new DenoKvStateStore(raw);

    // Store alone.
    await backlog({
      runs: N,
      store: new DenoKvStateStore(kv),
      seed,
      jobId: "count-store",
    });
    const storeCommits = counts.total(isCommit);
    const storeReads = counts.total(isRead);
    console.log(
      `1. KV operations per run, counted on a :memory: Deno.Kv (replay-all backlog of ${N} runs, no-op task)`,
    );
    console.log(
      `   a) DenoKvStateStore: ${storeCommits} commits = ${
        fmt(storeCommits / N)
      } commits/run (aim: ≤ 2, ${
        verdict(storeCommits / N <= 2)
      }); ${storeReads} reads = ${fmt(storeReads / N)} reads/run`,
    );
    printBreakdown(counts, N);

    // Store + guard on the same KV: the separate path it replaced beside
    // the single commit before and after a run, in the same run.
    console.log(
      `   b) DenoKvStateStore + DenoKvExecutionGuard on the same Deno.Kv (ttlMs ${LEASE.ttlMs}, renewIntervalMs ${LEASE.renewIntervalMs}); a commit is listed under its first key's area:`,
    );
    let met = true;
    for (const delivery of DELIVERIES) {
      const cells: string[] = [];
      for (const path of PATHS) {
        counts.reset();
        await backlog({
          runs: N,
          store: new DenoKvStateStore(kv),
          seed,
          guard: onPath(new DenoKvExecutionGuard(kv, LEASE), path),
          jobId: `count-${delivery}-${path}`,
          delivery,
        });
        const commits = counts.total(isCommit) / N;
        const reads = counts.total(isRead) / N;
        if (path === "single commit") met &&= commits <= 2 && reads <= 2;
        cells.push(
          `${PATH_LABELS[path]} ${fmt(commits)} commits, ${fmt(reads)} reads`,
        );
        console.log(`      ${delivery}, ${PATH_LABELS[path]}:`);
        printBreakdown(counts, N, "        ");
      }
      console.log(`      ${delivery.padEnd(13)} per run: ${cells.join("; ")}`);
    }
    console.log(
      `      aim: 1 commit before a run and 1 after, ≤ 2 reads per run, at-least-once included (single commit): ${
        verdict(met)
      }`,
    );
  } finally {
    raw.close();
  }
}

// ---------------------------------------------------------------------------
// 2. Throughput

const RUNS = 5_000;
const REPEATS = 3;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** One backlog on a fresh KV (memory or a new temporary file). */
async function kvBacklog(
  runs: number,
  onFile: boolean,
  guarded: boolean,
): Promise<number> {
  const path = onFile
    ? await Deno.makeTempFile({ prefix: "kv_figures_", suffix: ".sqlite3" })
    : ":memory:";
  const kv = await Deno.openKv(path);
  try {
    const store = new DenoKvStateStore(kv);
    const guard = guarded ? new DenoKvExecutionGuard(kv, LEASE) : undefined;
    return await backlog({ runs, store, guard });
  } finally {
    kv.close();
    if (onFile) {
      for (const suffix of ["", "-wal", "-shm", "-journal"]) {
        await removeIfPresent(path + suffix);
      }
    }
  }
}

async function memoryBacklog(runs: number): Promise<number> {
  return await backlog({ runs, store: new InMemoryStateStore() });
}

function line(label: string, ms: number): string {
  return `   ${label.padEnd(48)} ${RUNS} runs in ${
    ms.toFixed(0).padStart(5)
  } ms = ${String(Math.round(RUNS / ms * 1000)).padStart(7)} runs/s (${
    (ms * 1000 / RUNS).toFixed(1).padStart(6)
  } µs per run)`;
}

// Warm up every path once on a small backlog.
await memoryBacklog(500);
for (const onFile of [false, true]) {
  for (const guarded of [false, true]) await kvBacklog(500, onFile, guarded);
}

console.log(
  `2. replay-all backlog of ${RUNS} due occurrences, no-op task (median of ${REPEATS})`,
);
const memoryTimes: number[] = [];
for (let i = 0; i < REPEATS; i++) memoryTimes.push(await memoryBacklog(RUNS));
console.log(line("InMemoryStateStore (scale)", median(memoryTimes)));
for (const onFile of [false, true]) {
  for (const guarded of [false, true]) {
    const times: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      times.push(await kvBacklog(RUNS, onFile, guarded));
    }
    const label = `DenoKvStateStore ${onFile ? "file" : ":memory:"}${
      guarded ? " + KV guard (1 commit)" : ""
    }`;
    console.log(line(label, median(times)));
  }
}

// ---------------------------------------------------------------------------
// 3. The at-least-once cost in time, on the real ledger

const TIMED_RUNS = 2_000;
const ROUNDS = 7;

/** One timed backlog on a fresh :memory: KV: microseconds per run. */
async function timed(path: KvPath, delivery: Delivery): Promise<number> {
  const kv = await Deno.openKv(":memory:");
  try {
    const ms = await backlog({
      runs: TIMED_RUNS,
      store: new DenoKvStateStore(kv),
      guard: onPath(new DenoKvExecutionGuard(kv, LEASE), path),
      delivery,
    });
    return ms * 1000 / TIMED_RUNS;
  } finally {
    kv.close();
  }
}

{
  const cases = PATHS.flatMap((path) =>
    DELIVERIES.map((delivery) => ({ path, delivery, best: Infinity }))
  );
  for (const c of cases) await timed(c.path, c.delivery); // warm up
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      c.best = Math.min(c.best, await timed(c.path, c.delivery));
    }
  }
  console.log(
    `3. at-least-once cost on the real KV ledger: DenoKvStateStore + DenoKvExecutionGuard on one Deno.openKv(":memory:"), ${TIMED_RUNS}-run backlog, no-op task (best of ${ROUNDS}, interleaved)`,
  );
  for (const path of PATHS) {
    const [most, least] = DELIVERIES.map((delivery) =>
      cases.find((c) => c.path === path && c.delivery === delivery)!.best
    );
    console.log(
      `   ${PATH_LABELS[path].padEnd(23)} at-most-once (the floor) ${
        most.toFixed(1)
      } µs per run; at-least-once ${least.toFixed(1)} µs per run, ratio ${
        (least / most).toFixed(2)
      }×`,
    );
  }
}
