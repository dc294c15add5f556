/**
 * Valkey commands per scheduled run across two instances, counted by the
 * server (`CONFIG RESETSTAT`, then `INFO commandstats`), and whether any
 * occurrence ran twice: ours (state store + execution guard) against BullMQ's
 * job scheduler, each on a fresh `valkey-server` on a free loopback port.
 */
import { Valkey } from "iovalkey";
import {
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../../mod.ts";
import {
  ValkeyExecutionGuard,
  ValkeyStateStore,
} from "../../src/valkey/mod.ts";
import {
  hasValkeyServer,
  type ValkeyServer,
  withValkeyServer,
} from "../../tests/_valkey_server.ts";
import { peer, peerVersion } from "./_peers.ts";
import { pause, type Section, table } from "./_report.ts";

const EVERY_MS = 100;
const RUN_MS = 5_000;

interface Tally {
  name: string;
  setup: string;
  /** Occurrence key → how many times it ran. */
  runs: Map<string, number>;
  commands: Map<string, number>;
}

async function admin(url: string): Promise<Valkey> {
  const client = new Valkey(url, { lazyConnect: true });
  await client.connect();
  return client;
}

async function quit(client: Valkey): Promise<void> {
  const ended = new Promise((resolve) => client.once("end", resolve));
  await client.quit();
  await ended;
}

/** `cmdstat_<name>:calls=N,…` lines, without the measuring client's own. */
async function commandStats(client: Valkey): Promise<Map<string, number>> {
  const text = await client.info("commandstats");
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] === "info" || match[1] === "config|resetstat") continue;
    counts.set(match[1], Number(match[2]));
  }
  return counts;
}

function count(runs: Map<string, number>, key: string): void {
  runs.set(key, (runs.get(key) ?? 0) + 1);
}

async function ours(server: ValkeyServer): Promise<Tally> {
  const runs = new Map<string, number>();
  const instances = await Promise.all([0, 1].map(async () => ({
    store: await ValkeyStateStore.connect(server.url),
    guard: await ValkeyExecutionGuard.connect(server.url, {
      ttlMs: 10_000,
      renewIntervalMs: 3_000,
    }),
  })));
  const stats = await admin(server.url);
  await stats.config("RESETSTAT");
  const controller = new AbortController();
  const running = instances.map(({ store, guard }, index) =>
    pause(index * 20).then(() =>
      new Scheduler({}, store, { guard }).run(
        Job.withoutDeps(
          "compare",
          Schedule.interval(EVERY_MS),
          Task.fromSync(({ run }) =>
            count(runs, run.scheduledAt.toISOString())
          ),
        ),
        { signal: controller.signal },
      )
    )
  );
  await pause(RUN_MS);
  controller.abort();
  await Promise.all(running);
  const commands = await commandStats(stats);
  await quit(stats);
  await Promise.all(
    instances.flatMap(({ store, guard }) => [store.close(), guard.close()]),
  );
  return {
    name: "ours",
    setup:
      "two `Scheduler`s, each with its own `ValkeyStateStore` and `ValkeyExecutionGuard` (own connections), `Schedule.interval(100)`",
    runs,
    commands,
  };
}

async function bullmq(server: ValkeyServer): Promise<Tally> {
  const { Queue, Worker } = peer("bullmq");
  const runs = new Map<string, number>();
  const connection = {
    host: "127.0.0.1",
    port: server.port,
    maxRetriesPerRequest: null,
  };
  const instances = [0, 1].map(() => ({
    queue: new Queue("compare", { connection }),
    worker: new Worker(
      "compare",
      (job: { id: string }) => void count(runs, job.id),
      { connection, autorun: false },
    ),
  }));
  await Promise.all(
    instances.flatMap(({ queue, worker }) => [
      queue.waitUntilReady(),
      worker.waitUntilReady(),
    ]),
  );
  const stats = await admin(server.url);
  await stats.config("RESETSTAT");
  for (const { queue, worker } of instances) {
    // Each instance declares the schedule at start-up, as an app would.
    await queue.upsertJobScheduler("tick", { every: EVERY_MS }, {
      name: "tick",
    });
    void worker.run();
  }
  await pause(RUN_MS);
  await Promise.all(instances.map(({ worker }) => worker.close()));
  const commands = await commandStats(stats);
  await quit(stats);
  await Promise.all(instances.map(({ queue }) => queue.close()));
  return {
    name: `BullMQ ${peerVersion("bullmq")}`,
    setup:
      "two instances, each a `Queue` + `Worker` (own connections), both `upsertJobScheduler('tick', { every: 100 })`",
    runs,
    commands,
  };
}

/** Runs the measurement and returns its section of RESULTS.md. */
export async function measureValkey(): Promise<Section> {
  if (!(await hasValkeyServer())) {
    return {
      title: "Valkey commands per run, two instances",
      body: "Not measured: `valkey-server` is not on this machine.",
    };
  }
  // Warm the in-process paths once so JIT start-up does not skew the first run.
  await new Scheduler({}, new InMemoryStateStore()).run(
    Job.withoutDeps("warm", Schedule.interval(1), Task.fromSync(() => {}))
      .withMaxRuns(10),
  );
  const tallies = [
    await withValkeyServer(ours),
    await withValkeyServer(bullmq),
  ];
  const rows = tallies.map((tally) => {
    const distinct = tally.runs.size;
    const executions = [...tally.runs.values()].reduce((a, b) => a + b, 0);
    const total = [...tally.commands.values()].reduce((a, b) => a + b, 0);
    return [
      tally.name,
      distinct,
      executions - distinct,
      total,
      distinct ? (total / distinct).toFixed(1) : "—",
    ];
  });
  const breakdown = tallies.map((tally) => [
    tally.name,
    [...tally.commands.entries()].sort((a, b) => b[1] - a[1])
      .map(([name, calls]) => `${name} ${calls}`).join(", "),
  ]);
  return {
    title: "Valkey commands per run, two instances",
    body: [
      `A fresh \`valkey-server\` (one per library) on a free loopback port; the clients connect, \`CONFIG RESETSTAT\` zeroes the counters, the two instances run a ${EVERY_MS} ms schedule for ${RUN_MS} ms, stop, and \`INFO commandstats\` gives every command the server executed (the measuring client's own \`INFO\`/\`CONFIG\` left out). Idle polling and connection handshakes within the window count: they are what the server carries.`,
      "",
      tallies.map((t) => `- ${t.name}: ${t.setup}`).join("\n"),
      "",
      table(
        [
          "library",
          "occurrences run",
          "ran twice (duplicates)",
          "commands",
          "commands per occurrence",
        ],
        rows,
      ),
      "",
      table(["library", "commands by name"], breakdown),
      "",
      "node-cron 4's `distributed: true` with its Redis coordinator: not measured — `@node-cron/redis-coordinator` is not installable from npm (see the header).",
    ].join("\n"),
  };
}
