/**
 * Deno KV at its floor, through the public API: a `DenoKvStateStore` and a
 * `DenoKvExecutionGuard` on one `Deno.Kv` cost one commit before each run
 * and one after it, and at most two reads per run (none on a steady run),
 * at-most-once and at-least-once alike, counted on a real `:memory:` KV
 * behind the benchmarks' counting proxy (bench/_kv_counting.ts). Beside it,
 * the same guard behind a plain object (bench/_kv_paths.ts) keeps the
 * separate calls, counted the same way, so the test shows what changed.
 */
import assert from "node:assert/strict";
import {
  type Delivery,
  DenoKvExecutionGuard,
  DenoKvStateStore,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import {
  countingKv,
  isCommit,
  isRead,
  KvCounts,
} from "../bench/_kv_counting.ts";
import { type KvPath, onPath } from "../bench/_kv_paths.ts";

const LEASE = { ttlMs: 60_000, renewIntervalMs: 20_000 };
const RUNS = 40;

interface Counted {
  commits: number;
  reads: number;
  /** Reads by operation, e.g. `get 1`. */
  readsBy: string;
}

/**
 * A replay-all backlog of `RUNS` due occurrences on a fresh counted KV;
 * the state is seeded uncounted. Answers what `run()` cost.
 */
async function backlog(
  delivery: Delivery,
  path: KvPath,
  runs = RUNS,
): Promise<Counted> {
  const raw = await Deno.openKv(":memory:");
  try {
    const counts = new KvCounts();
    const kv = countingKv(raw, counts);
    await new DenoKvStateStore(raw).save({
      jobId: "floor",
      triggerCount: 0,
      lastRunAt: null,
      lastSuccessAt: null,
      nextRunAt: new Date(Date.now() - runs),
      lastError: null,
    });
    let ran = 0;
    const job = Job.withoutDeps(
      "floor",
      Schedule.interval(1),
      Task.fromSync(() => void ran++),
    ).withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(runs)
      .withDelivery(delivery);
    const guard = onPath(new DenoKvExecutionGuard(kv, LEASE), path);
    const report = await Scheduler.withExecutionGuard(
      {},
      new DenoKvStateStore(kv),
      guard,
    ).run(job);
    assert.equal(ran, runs);
    assert.equal(report.state.triggerCount, runs);
    assert.equal(report.history.every((r) => r.status === "success"), true);
    const reads = counts.entries().flatMap(([, operations]) =>
      operations.filter(([operation]) => isRead(operation))
    );
    return {
      commits: counts.total(isCommit),
      reads: counts.total(isRead),
      readsBy: reads.map(([operation, count]) => `${operation} ${count}`).join(
        ", ",
      ),
    };
  } finally {
    raw.close();
  }
}

for (const delivery of ["at-most-once", "at-least-once"] as const) {
  Deno.test(`Deno KV store + guard on one Deno.Kv, ${delivery}: 1 commit before each run and 1 after, no read per steady run`, async () => {
    const { commits, reads, readsBy } = await backlog(
      delivery,
      "single commit",
    );
    // Nothing but the two commits of each run: no save, grant, release or
    // completion of its own.
    assert.equal(commits, 2 * RUNS, `${commits} commits for ${RUNS} runs`);
    // The reads are the run()'s, not the runs': the state's load, the first
    // grant's read of the fencing counter and listing of the job's records,
    // the ledger's looks at run() start. A steady run reads nothing.
    const one = await backlog(delivery, "single commit", 1);
    assert.equal(one.commits, 2);
    assert.equal(
      reads,
      one.reads,
      `${RUNS} runs read ${reads} (${readsBy}), 1 run ${one.reads} (${one.readsBy})`,
    );
    assert.ok(reads <= 2 * RUNS);
  });
}

Deno.test("Deno KV: the same guard hidden from the store keeps the separate calls (4 commits per run), the single commit halves them", async () => {
  for (const delivery of ["at-most-once", "at-least-once"] as const) {
    const separate = await backlog(delivery, "separate");
    const single = await backlog(delivery, "single commit");
    assert.equal(separate.commits, 4 * RUNS, delivery);
    assert.equal(single.commits * 2, separate.commits, delivery);
    assert.ok(single.reads < separate.reads, delivery);
  }
});
