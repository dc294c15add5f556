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

const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };

// ---------------------------------------------------------------------------
// Counting proxy

/** Counts of KV calls, keyed by `area` then operation name. */
class KvCounts {
  readonly #counts = new Map<string, Map<string, number>>();

  bump(area: string, operation: string): void {
    let byOperation = this.#counts.get(area);
    if (byOperation === undefined) {
      byOperation = new Map();
      this.#counts.set(area, byOperation);
    }
    byOperation.set(operation, (byOperation.get(operation) ?? 0) + 1);
  }

  reset(): void {
    this.#counts.clear();
  }

  /** Sum over areas (all when omitted) of the operations matching `pick`. */
  total(pick: (operation: string) => boolean, area?: string): number {
    let sum = 0;
    for (const [name, byOperation] of this.#counts) {
      if (area !== undefined && name !== area) continue;
      for (const [operation, count] of byOperation) {
        if (pick(operation)) sum += count;
      }
    }
    return sum;
  }

  entries(): [string, [string, number][]][] {
    return [...this.#counts].map((
      [area, byOperation],
    ) => [area, [...byOperation]]);
  }
}

/** Write commits: a plain `set`/`delete`, or an atomic operation's commit. */
const COMMIT_OPERATIONS = new Set(["set", "delete", "atomic.commit"]);
const READ_OPERATIONS = new Set(["get", "getMany", "list"]);
const isCommit = (operation: string) => COMMIT_OPERATIONS.has(operation);
const isRead = (operation: string) => READ_OPERATIONS.has(operation);

/** Which part of the library a key belongs to: its second part by default. */
function areaOf(key: unknown): string {
  if (!Array.isArray(key) || key.length === 0) return "(unknown)";
  const part = key.length > 1 ? key[1] : key[0];
  return typeof part === "string" ? part : String(part);
}

/**
 * Wraps a `Deno.Kv` so that every call is counted in `counts`. Methods are
 * bound to the real target: `Deno.Kv` uses private fields.
 */
function countingKv(kv: Deno.Kv, counts: KvCounts): Deno.Kv {
  const counted = new Set(["get", "getMany", "list", "set", "delete"]);
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "atomic") {
        return () => countingAtomic(target.atomic(), counts);
      }
      if (typeof prop === "string" && counted.has(prop)) {
        return (...args: unknown[]) => {
          const key = prop === "getMany"
            ? (args[0] as unknown[])[0]
            : prop === "list"
            ? (args[0] as { prefix?: unknown; start?: unknown }).prefix ??
              (args[0] as { start?: unknown }).start
            : args[0];
          counts.bump(areaOf(key), prop);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
}

/**
 * Wraps an atomic operation: chained calls return the wrapper, `commit()` is
 * counted once per call (attempts, whether or not the checks pass), and the
 * mutations it carries are counted as `atomic.<method>`.
 */
function countingAtomic(
  operation: Deno.AtomicOperation,
  counts: KvCounts,
): Deno.AtomicOperation {
  const pending: [string, unknown][] = [];
  const wrapper: Deno.AtomicOperation = new Proxy(operation, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "commit") {
        return async () => {
          // Attribute the commit to the area of its first key.
          const area = areaOf(pending[0]?.[1]);
          counts.bump(area, "atomic.commit");
          for (const [method] of pending) counts.bump(area, `atomic.${method}`);
          pending.length = 0;
          const result = await (value as () => Promise<
            Deno.KvCommitResult | Deno.KvCommitError
          >).call(target);
          if (!result.ok) counts.bump(area, "atomic.commit (checks failed)");
          return result;
        };
      }
      return (...args: unknown[]) => {
        if (typeof prop === "string") {
          const key = prop === "check"
            ? (args[0] as { key?: unknown } | undefined)?.key
            : args[0];
          pending.push([prop, key]);
        }
        const result = (value as (...a: unknown[]) => unknown).apply(
          target,
          args,
        );
        return result === target ? wrapper : result;
      };
    },
  });
  return wrapper;
}

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
