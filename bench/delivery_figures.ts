/**
 * At-least-once vs at-most-once, printed (run with
 * `deno run -A bench/delivery_figures.ts`):
 *
 * 1. Valkey commands per run: a throw-away `valkey-server`, the Valkey state
 *    store and guard, a replay-all backlog of 200 runs with a no-op task.
 *    Every command the clients send is counted (iovalkey's `sendCommand`;
 *    a script counts once, as in the SPEC). Each command is one round trip.
 *    Aim: at-least-once at most 2 more per run than at-most-once.
 * 2. Deno KV operations per run: the same backlog on a `:memory:` KV with
 *    the KV state store and guard, behind a counting proxy, on the separate
 *    path (a guard call and a save each, as before the store wrote the
 *    guard's leases) beside the single commit before and after a run
 *    (`LeasedStateWrites`). Aim, at-least-once included: 1 commit before a
 *    run and 1 after, ≤ 2 reads per run.
 * 3. The at-least-once cost in time on the real KV ledger: a 2 000-run
 *    backlog on a fresh `:memory:` KV per round, at-least-once beside
 *    at-most-once (the floor: the same grants and saves, without replay),
 *    on both paths, best of 7, interleaved.
 */
import { Valkey } from "iovalkey";
import {
  type Delivery,
  DenoKvExecutionGuard,
  DenoKvStateStore,
  type ExecutionGuard,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  type StateStore,
  Task,
} from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { startValkeyServer } from "../tests/_valkey_server.ts";
import { countingKv, isCommit, isRead, KvCounts } from "./_kv_counting.ts";
import { type KvPath, onPath } from "./_kv_paths.ts";

const N = 200;
const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };
const DELIVERIES: Delivery[] = ["at-most-once", "at-least-once"];
const fmt = (value: number) => value.toFixed(2);
const verdict = (met: boolean) => (met ? "met" : "NOT MET");
const signed = (value: number) =>
  `${value < 0 ? "−" : "+"}${fmt(Math.abs(value))}`;

/** A backlog: the store, guard and job, and where its state is seeded. */
interface Backlog {
  store: StateStore;
  guard: ExecutionGuard;
  jobId: string;
  delivery: Delivery;
  /** Due occurrences; `N` by default. */
  runs?: number;
  /** Saves the first state (uncounted, when a counted store is measured). */
  seed?: StateStore;
}

/** Runs a replay-all backlog of due occurrences; checks they all ran. */
async function backlog(
  { store, guard, jobId, delivery, runs = N, seed = store }: Backlog,
): Promise<void> {
  await seed.save({
    jobId,
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(Date.now() - runs),
    lastError: null,
  });
  let ran = 0;
  const job = Job.withoutDeps(
    jobId,
    Schedule.interval(1),
    Task.fromSync(() => void ran++),
  ).withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(runs)
    .withDelivery(delivery);
  const report = await Scheduler.withExecutionGuard({}, store, guard).run(job);
  if (report.state.triggerCount !== runs || ran !== runs) {
    throw new Error(`expected ${runs} runs, got ${ran}`);
  }
}

// ---------------------------------------------------------------------------
// 1. Valkey commands per run

/** Commands sent by every iovalkey client, by name. */
const sent = new Map<string, number>();
const prototype = Valkey.prototype as unknown as {
  sendCommand(command: { name: string }, ...rest: unknown[]): unknown;
};
const sendCommand = prototype.sendCommand;
prototype.sendCommand = function (command, ...rest) {
  sent.set(command.name, (sent.get(command.name) ?? 0) + 1);
  return sendCommand.call(this, command, ...rest);
};
const sentTotal = () => [...sent.values()].reduce((a, b) => a + b, 0);

const server = await startValkeyServer();
try {
  const store = await ValkeyStateStore.connect(server.url);
  const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
  try {
    // Warm up: load the scripts once, so NOSCRIPT retries are not counted.
    for (const delivery of DELIVERIES) {
      await backlog({ store, guard, jobId: `warm-${delivery}`, delivery });
    }
    console.log(
      `1. Valkey commands per run (replay-all backlog of ${N} runs, no-op task, ValkeyStateStore + ValkeyExecutionGuard)`,
    );
    const perRun: number[] = [];
    for (const delivery of DELIVERIES) {
      sent.clear();
      await backlog({ store, guard, jobId: `count-${delivery}`, delivery });
      perRun.push(sentTotal() / N);
      const parts = [...sent].map(([name, count]) =>
        `${name} ${fmt(count / N)}`
      );
      console.log(
        `   ${delivery.padEnd(13)} ${fmt(sentTotal() / N)} commands/run (${
          parts.join(", ")
        })`,
      );
    }
    const extra = perRun[1] - perRun[0];
    console.log(
      `   at-least-once: +${fmt(extra)} commands (round trips) per run, ratio ${
        fmt(perRun[1] / perRun[0])
      } (aim: ≤ 2 more, ${verdict(extra <= 2)})`,
    );
  } finally {
    await guard.close();
    await store.close();
  }
} finally {
  await server.stop();
}

// ---------------------------------------------------------------------------
// 2. Deno KV operations per run, and 3. the at-least-once cost in time

const PATHS: KvPath[] = ["separate", "single commit"];

/**
 * One backlog on a fresh store and guard over `kv` (a job id per call), its
 * state seeded through `seed` (the uncounted database).
 */
let backlogs = 0;
function kvBacklog(
  kv: Deno.Kv,
  run: { path: KvPath; delivery: Delivery; runs?: number; seed?: Deno.Kv },
): Promise<void> {
  const { path, delivery, runs, seed = kv } = run;
  return backlog({
    store: new DenoKvStateStore(kv),
    guard: onPath(new DenoKvExecutionGuard(kv, LEASE), path),
    jobId: `kv-${backlogs++}`,
    delivery,
    runs,
    seed: new DenoKvStateStore(seed),
  });
}

{
  const raw = await Deno.openKv(":memory:");
  try {
    const counts = new KvCounts();
    const kv = countingKv(raw, counts);
    console.log(
      `2. Deno KV operations per run (replay-all backlog of ${N} runs, no-op task, DenoKvStateStore + DenoKvExecutionGuard on one :memory: Deno.Kv)`,
    );
    console.log(
      `   ${"".padEnd(13)} ${
        "separate path (before)".padEnd(34)
      } single commit (now)`,
    );
    const now: { commits: number; reads: number }[] = [];
    for (const delivery of DELIVERIES) {
      const cells: string[] = [];
      for (const path of PATHS) {
        await kvBacklog(kv, { path, delivery, seed: raw }); // warm up
        counts.reset();
        await kvBacklog(kv, { path, delivery, seed: raw });
        const commits = counts.total(isCommit) / N;
        const reads = counts.total(isRead) / N;
        cells.push(`${fmt(commits)} commits, ${fmt(reads)} reads /run`);
        if (path === "single commit") now.push({ commits, reads });
      }
      console.log(
        `   ${delivery.padEnd(13)} ${cells[0].padEnd(34)} ${cells[1]}`,
      );
    }
    const met = now.every(({ commits, reads }) => commits <= 2 && reads <= 2);
    console.log(
      `   aim: 1 commit before a run and 1 after, ≤ 2 reads per run, at-least-once included (single commit): ${
        verdict(met)
      }; at-least-once ${signed(now[1].commits - now[0].commits)} commits, ${
        signed(now[1].reads - now[0].reads)
      } reads per run`,
    );
  } finally {
    raw.close();
  }
}

const TIMED_RUNS = 2_000;
const ROUNDS = 7;

/** The best time per run of `ROUNDS` backlogs, each on a fresh :memory: KV. */
async function timed(path: KvPath, delivery: Delivery): Promise<number> {
  const kv = await Deno.openKv(":memory:");
  try {
    const started = performance.now();
    await kvBacklog(kv, { path, delivery, runs: TIMED_RUNS });
    return (performance.now() - started) * 1000 / TIMED_RUNS;
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
      `   ${
        (path === "separate" ? "separate path (before)" : "single commit (now)")
          .padEnd(23)
      } at-most-once (the floor) ${most.toFixed(1)} µs per run; at-least-once ${
        least.toFixed(1)
      } µs per run, ratio ${(least / most).toFixed(2)}×`,
    );
  }
}
