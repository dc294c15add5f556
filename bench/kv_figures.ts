/**
 * Deno KV figures, printed (run with `deno run -A bench/kv_figures.ts`):
 *
 * 1. KV commits per run, counted: a real `Deno.Kv` on `:memory:` behind a
 *    counting proxy that counts every write commit (`set`, `delete`, each
 *    `commit()` of an `atomic()` operation) and every read (`get`,
 *    `getMany`, `list`), attributed to the state store or the guard by key
 *    prefix. A replay-all backlog of 200 runs with a no-op task, with
 *    `DenoKvStateStore` alone, then with a `DenoKvExecutionGuard` on the same
 *    KV. Aims: at most 2 commits per run for the store, at most 2 more for
 *    the guard.
 * 2. Throughput: a replay-all backlog of 5 000 due occurrences with a no-op
 *    task, `DenoKvStateStore` on `:memory:` and on a temporary file, each with
 *    and without the KV guard, beside `InMemoryStateStore` for scale.
 */
import {
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

const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };

// ---------------------------------------------------------------------------
// Backlog runner

let taskRuns = 0;
function noop(_context: TaskContext<undefined>): Promise<void> {
  taskRuns++;
  return Promise.resolve();
}

/**
 * Runs a replay-all backlog of `runs` due occurrences (interval 1 ms, stored
 * `nextRunAt` = now − runs ms) and returns the elapsed milliseconds of
 * `run()`. The state is seeded through `seedStore` (uncounted).
 */
async function backlog(
  runs: number,
  store: StateStore,
  seedStore: StateStore,
  guard?: ExecutionGuard,
  jobId = "backlog",
): Promise<number> {
  await seedStore.save({
    jobId,
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(Date.now() - runs),
    lastError: null,
  });
  const job = Job.withoutDeps(jobId, Schedule.interval(1), Task.fromAsync(noop))
    .withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(runs);
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

// ---------------------------------------------------------------------------
// 1. Commits per run

const N = 200;
const STORE_AREA = "job-state";
const GUARD_AREA = "execution-lease";
const fmt = (value: number) => value.toFixed(2);
const verdict = (met: boolean) => (met ? "met" : "NOT MET");

function printBreakdown(counts: KvCounts, runs: number): void {
  for (const [area, operations] of counts.entries()) {
    const parts = operations.map(([operation, count]) =>
      `${operation} ${count} (${fmt(count / runs)}/run)`
    );
    console.log(`     [${area}] ${parts.join(", ")}`);
  }
}

{
  const raw = await Deno.openKv(":memory:");
  try {
    const counts = new KvCounts();
    const kv = countingKv(raw, counts);
    const seed = new DenoKvStateStore(raw);

    // Store alone.
    await backlog(N, new DenoKvStateStore(kv), seed, undefined, "count-store");
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

    // Store + guard on the same KV.
    counts.reset();
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    await backlog(N, new DenoKvStateStore(kv), seed, guard, "count-guarded");
    const totalCommits = counts.total(isCommit);
    const totalReads = counts.total(isRead);
    const storePart = counts.total(isCommit, STORE_AREA);
    const guardPart = counts.total(isCommit, GUARD_AREA);
    const guardReads = counts.total(isRead, GUARD_AREA);
    console.log(
      `   b) DenoKvStateStore + DenoKvExecutionGuard (ttlMs ${LEASE.ttlMs}, renewIntervalMs ${LEASE.renewIntervalMs}):`,
    );
    console.log(
      `      ${totalCommits} commits = ${
        fmt(totalCommits / N)
      } commits/run (aim: ≤ 4, ${
        verdict(totalCommits / N <= 4)
      }); ${totalReads} reads = ${fmt(totalReads / N)} reads/run`,
    );
    console.log(
      `      store ${fmt(storePart / N)} commits/run; guard ${
        fmt(guardPart / N)
      } commits/run (aim: ≤ 2 more, ${verdict(guardPart / N <= 2)}), ${
        fmt(guardReads / N)
      } reads/run; guard share of commits ${
        (totalCommits === 0 ? 0 : guardPart / totalCommits * 100).toFixed(0)
      }%`,
    );
    printBreakdown(counts, N);
    const unattributed = totalCommits - storePart - guardPart;
    if (unattributed !== 0) {
      console.log(`      (${unattributed} commits on other keys)`);
    }
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
    return await backlog(runs, store, store, guard);
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
  const store = new InMemoryStateStore();
  return await backlog(runs, store, store);
}

function line(label: string, ms: number): string {
  return `   ${label.padEnd(36)} ${RUNS} runs in ${
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
      guarded ? " + KV guard" : ""
    }`;
    console.log(line(label, median(times)));
  }
}
