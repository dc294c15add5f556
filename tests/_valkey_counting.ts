/**
 * What one scheduled run costs on Valkey, counted (not timed): the
 * commands the clients send (each one round trip; iovalkey's
 * `sendCommand`, so a script counts once) and the commands the server
 * executes (`INFO commandstats` of the primary serving the job: a script
 * and every command inside it). Shared by `tests/valkey_two_trips_test.ts`
 * and `bench/delivery_figures.ts`.
 *
 * Per run is a difference: a replay-all backlog of `FEW` runs and one of
 * `MANY` on fresh job ids, so what a `run()` costs once (loading the state,
 * looking at the ledger at its start and end) cancels out; each after a
 * warm-up on the same primary.
 */
import { Valkey } from "iovalkey";
import {
  type Delivery,
  type ExecutionGuard,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  type StateStore,
  Task,
} from "../mod.ts";
import { cli } from "./_valkey_topology.ts";

/** The runs of the short backlog. */
export const FEW = 10;
/** The runs of the long backlog. */
export const MANY = 50;
/**
 * How many one-off commands the difference may hold: a `run()` may cost a
 * command more now and then (a retry after a timeout on a loaded machine),
 * which shows as 1 / (MANY - FEW) per run, while a cost of every run shows
 * as 1 or more.
 */
export const ONE_OFFS = 2;
/** What `ONE_OFFS` add to a per-run figure at most. */
export const SLACK: number = ONE_OFFS / (MANY - FEW);

/**
 * Housekeeping a server does or receives whoever uses it: replication,
 * Sentinel's pings and hellos, a client's handshake and a Cluster client's
 * slot-table queries (on a timer of their own), and the measuring `INFO`
 * itself. None touches a job's keys; none is counted.
 */
const HOUSEKEEPING =
  /^(info|ping|replconf|psync|sync|publish|subscribe|hello|auth|select|role|(cluster|config|client|command)(\|.*)?)$/;

/** Commands sent by every iovalkey client of this process, by name. */
const sent = new Map<string, number>();
let patched = false;

/** Starts counting the commands every iovalkey client sends. */
function countSent(): void {
  if (patched) return;
  patched = true;
  const prototype = Valkey.prototype as unknown as {
    sendCommand(command: { name: string }, ...rest: unknown[]): unknown;
  };
  const sendCommand = prototype.sendCommand;
  prototype.sendCommand = function (command, ...rest) {
    const name = command.name.toLowerCase();
    // A Cluster client's slot-table refreshes come on their own timer.
    if (!HOUSEKEEPING.test(name)) sent.set(name, (sent.get(name) ?? 0) + 1);
    return sendCommand.call(this, command, ...rest);
  };
}

/** The executed commands of the server on `port`, by name. */
export async function commandStats(port: number): Promise<Map<string, number>> {
  const text = await cli(port, "INFO", "commandstats");
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (HOUSEKEEPING.test(match[1])) continue;
    counts.set(match[1], Number(match[2]));
  }
  return counts;
}

function minus(
  after: Map<string, number>,
  before: Map<string, number>,
): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, count] of after) {
    const d = count - (before.get(name) ?? 0);
    if (d !== 0) delta.set(name, d);
  }
  return delta;
}

function total(counts: Map<string, number>): number {
  return [...counts.values()].reduce((a, b) => a + b, 0);
}

/**
 * Runs a replay-all backlog of `n` due occurrences; checks they all ran.
 * (Also what `bench/delivery_figures.ts` counts on Deno KV.)
 */
export async function backlog(
  options: {
    readonly store: StateStore;
    readonly guard: ExecutionGuard;
    readonly jobId: string;
    readonly delivery: Delivery;
    readonly n: number;
  },
): Promise<void> {
  const { store, guard, jobId, delivery, n } = options;
  await store.save({
    jobId,
    triggerCount: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(Date.now() - n),
    lastError: null,
  });
  let ran = 0;
  const job = Job.withoutDeps(
    jobId,
    Schedule.interval(1),
    Task.fromSync(() => void ran++),
  ).withMissedRunPolicy(MissedRunPolicy.ReplayAll).withMaxRuns(n)
    .withDelivery(delivery);
  const report = await Scheduler.withExecutionGuard({}, store, guard).run(job);
  if (report.state.triggerCount !== n || ran !== n) {
    throw new Error(`expected ${n} runs of ${jobId}, got ${ran}`);
  }
}

/** A store and a guard, and where a job's commands execute. */
export interface Deployment {
  readonly store: StateStore;
  readonly guard: ExecutionGuard;
  /** The port of the primary that serves `jobId`'s keys. */
  primaryPort(jobId: string): Promise<number>;
}

/** What one run costs. */
export interface RunCost {
  /** Commands sent per run (each one round trip). */
  readonly roundTrips: number;
  /** Commands the server executed per run. */
  readonly serverCommands: number;
  /** Both, by command name, per run. */
  readonly sentByName: Map<string, number>;
  readonly executedByName: Map<string, number>;
}

async function measured(
  deployment: Deployment,
  options: { jobId: string; delivery: Delivery; n: number },
): Promise<{ sent: Map<string, number>; executed: Map<string, number> }> {
  const port = await deployment.primaryPort(options.jobId);
  // A warm-up on the same primary loads the scripts into its cache, so
  // that no first call's NOSCRIPT and EVAL are counted (on a Cluster each
  // primary has its own).
  for (let k = 0; k < 200; k++) {
    const warm = `${options.jobId}-warm-${k}`;
    if (await deployment.primaryPort(warm) !== port) continue;
    await backlog({ ...deployment, ...options, jobId: warm, n: 3 });
    break;
  }
  const before = await commandStats(port);
  const sentBefore = new Map(sent);
  await backlog({ ...deployment, ...options });
  const executed = minus(await commandStats(port), before);
  return { sent: minus(sent, sentBefore), executed };
}

/**
 * The cost of one run of a `delivery` job on `deployment` (after a warm-up
 * run, so that loading the scripts is not counted); `tag` keeps the job
 * ids of one measurement apart from another's.
 */
export async function runCost(
  deployment: Deployment,
  options: { delivery: Delivery; tag: string },
): Promise<RunCost> {
  countSent();
  const id = (what: string) => `${options.tag}-${options.delivery}-${what}`;
  const few = await measured(deployment, {
    ...options,
    jobId: id("few"),
    n: FEW,
  });
  const many = await measured(deployment, {
    ...options,
    jobId: id("many"),
    n: MANY,
  });
  const perRun = (a: Map<string, number>, b: Map<string, number>) => {
    const delta = minus(a, b);
    for (const [name, count] of delta) delta.set(name, count / (MANY - FEW));
    return delta;
  };
  const sentByName = perRun(many.sent, few.sent);
  const executedByName = perRun(many.executed, few.executed);
  return {
    roundTrips: total(sentByName),
    serverCommands: total(executedByName),
    sentByName,
    executedByName,
  };
}

/** `counts` as `name 1.00, ...`. */
export function byName(counts: Map<string, number>): string {
  return [...counts].sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `${name} ${count.toFixed(2)}`).join(", ");
}
