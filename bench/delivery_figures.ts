/**
 * At-least-once vs at-most-once, printed (run with
 * `deno run -A bench/delivery_figures.ts`):
 *
 * 1. Valkey commands per run: a throw-away `valkey-server`, the Valkey state
 *    store and guard, a replay-all backlog of 200 runs with a no-op task.
 *    Every command the clients send is counted (iovalkey's `sendCommand`;
 *    a script counts once, as in the SPEC). Each command is one round trip.
 *    Aim: at-least-once at most 2 more per run than at-most-once.
 * 2. Deno KV commits per run: the same backlog on a `:memory:` KV with the
 *    KV state store and guard, behind a counting proxy. Aim: at most 1 more
 *    commit per run.
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

const N = 200;
const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };
const DELIVERIES: Delivery[] = ["at-most-once", "at-least-once"];
const fmt = (value: number) => value.toFixed(2);
const verdict = (met: boolean) => (met ? "met" : "NOT MET");

/** Runs a replay-all backlog of `N` due occurrences; checks they all ran. */
async function backlog(
  store: StateStore,
  guard: ExecutionGuard,
  jobId: string,
  delivery: Delivery,
): Promise<void> {
  await store.save({
    jobId,
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(Date.now() - N),
    lastError: null,
  });
  let ran = 0;
  const job = Job.withoutDeps(
    jobId,
    Schedule.interval(1),
    Task.fromSync(() => void ran++),
  ).withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(N)
    .withDelivery(delivery);
  const report = await Scheduler.withExecutionGuard({}, store, guard).run(job);
  if (report.state.triggerCount !== N || ran !== N) {
    throw new Error(`expected ${N} runs, got ${ran}`);
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
      await backlog(store, guard, `warm-${delivery}`, delivery);
    }
    console.log(
      `1. Valkey commands per run (replay-all backlog of ${N} runs, no-op task, ValkeyStateStore + ValkeyExecutionGuard)`,
    );
    const perRun: number[] = [];
    for (const delivery of DELIVERIES) {
      sent.clear();
      await backlog(store, guard, `count-${delivery}`, delivery);
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
// 2. Deno KV commits per run

{
  const raw = await Deno.openKv(":memory:");
  try {
    const counts = new KvCounts();
    const kv = countingKv(raw, counts);
    const store = new DenoKvStateStore(kv);
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    console.log(
      `2. Deno KV operations per run (replay-all backlog of ${N} runs, no-op task, DenoKvStateStore + DenoKvExecutionGuard on :memory:)`,
    );
    const commits: number[] = [];
    for (const delivery of DELIVERIES) {
      await backlog(store, guard, `warm-${delivery}`, delivery);
      counts.reset();
      await backlog(store, guard, `count-${delivery}`, delivery);
      commits.push(counts.total(isCommit) / N);
      console.log(
        `   ${delivery.padEnd(13)} ${
          fmt(counts.total(isCommit) / N)
        } commits/run, ${fmt(counts.total(isRead) / N)} reads/run`,
      );
    }
    const extra = commits[1] - commits[0];
    console.log(
      `   at-least-once: +${fmt(extra)} commits per run, ratio ${
        fmt(commits[1] / commits[0])
      } (aim: ≤ 1 more, ${verdict(extra <= 1)})`,
    );
  } finally {
    raw.close();
  }
}
