/**
 * Two round trips per run when the Valkey state store and guard share one
 * deployment (docs/valkey.md, "Two round trips per run"): through the
 * public API, on one server, behind Sentinel and on a Cluster, under
 * at-most-once and at-least-once, each run costs at most 2 commands sent
 * (one script before it, one after) and at most 10 commands executed by
 * the server (both scripts and what runs inside them; the grant's `HLEN`,
 * the job's record count the reclaimer needs, runs only when another grant
 * came since this store's last, see docs/valkey.md, "Two round trips per
 * run"). Counts, not times: `tests/_valkey_counting.ts`.
 *
 * Real servers on loopback ports; ignored without valkey-server/valkey-cli.
 */
import assert from "node:assert/strict";
import {
  canWriteLeased,
  type Delivery,
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { ofType, recordEvents } from "./_engine_helpers.ts";
import {
  type ValkeyConnection,
  ValkeyExecutionGuard,
  ValkeyStateStore,
} from "../src/valkey/mod.ts";
import { startValkeyServer } from "./_valkey_server.ts";
import {
  hasValkeyTopologies,
  startCluster,
  startSentinelSet,
} from "./_valkey_topology.ts";
import { byName, type Deployment, runCost, SLACK } from "./_valkey_counting.ts";

const available = await hasValkeyTopologies();
const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };
const DELIVERIES: Delivery[] = ["at-most-once", "at-least-once"];
/** Server commands per run: docs/valkey.md, "Two round trips per run". */
const COMMANDS = 10;

async function connect(connection: ValkeyConnection) {
  const store = await ValkeyStateStore.connect(connection);
  const guard = await ValkeyExecutionGuard.connect(connection, LEASE);
  return { store, guard };
}

/** Checks the counts of both deliveries on `deployment`. */
async function assertTwoTrips(
  topology: string,
  deployment: Deployment & {
    store: ValkeyStateStore;
    guard: ValkeyExecutionGuard;
  },
): Promise<void> {
  const { store, guard } = deployment;
  assert.ok(store.sharesWith(guard), `${topology}: one deployment`);
  assert.ok(canWriteLeased(store, guard));
  for (const delivery of DELIVERIES) {
    const cost = await runCost(deployment, { delivery, tag: topology });
    const what = `${topology}, ${delivery}: sent ${
      byName(cost.sentByName)
    }; executed ${byName(cost.executedByName)}`;
    // Two scripts a run, and nothing else: a look at the ledger or a plain
    // save each run would add 1 per run; a one-off of a run() (see
    // _valkey_counting.ts) adds at most SLACK.
    assert.ok(
      cost.roundTrips <= 2 + SLACK,
      `≤ 2 round trips per run (${what})`,
    );
    assert.ok(Math.abs((cost.sentByName.get("evalsha") ?? 0) - 2) <= SLACK);
    for (const [name, count] of cost.sentByName) {
      if (name !== "evalsha") assert.ok(Math.abs(count) <= SLACK, what);
    }
    assert.ok(
      cost.serverCommands <= COMMANDS + SLACK,
      `≤ ${COMMANDS} commands per run (${what})`,
    );
  }
}

Deno.test({
  name:
    "two round trips: one Valkey server, store and guard on one URL: ≤ 2 round trips and ≤ 10 server commands per run, at-most-once and at-least-once",
  ignore: !available,
  fn: async () => {
    const server = await startValkeyServer();
    const { store, guard } = await connect(server.url);
    try {
      await assertTwoTrips("single", {
        store,
        guard,
        primaryPort: () => Promise.resolve(server.port),
      });
    } finally {
      await guard.close();
      await store.close();
      await server.stop();
    }
  },
});

Deno.test({
  name:
    "two round trips: behind Sentinel, store and guard on one Sentinel configuration: ≤ 2 round trips and ≤ 10 server commands per run",
  ignore: !available,
  fn: async () => {
    const sentinel = await startSentinelSet();
    const connection = { sentinels: sentinel.sentinels, name: sentinel.name };
    const { store, guard } = await connect(connection);
    try {
      await assertTwoTrips("sentinel", {
        store,
        guard,
        primaryPort: async () => (await sentinel.primary()).port,
      });
    } finally {
      await guard.close();
      await store.close();
      await sentinel.stop();
    }
  },
});

Deno.test({
  name:
    "two round trips: on a Cluster (cluster key layout, a job's keys in one slot): ≤ 2 round trips and ≤ 10 server commands per run",
  ignore: !available,
  fn: async () => {
    const cluster = await startCluster();
    const { store, guard } = await connect({ cluster: cluster.startup });
    try {
      assert.equal(store.keyLayout, "cluster");
      await assertTwoTrips("cluster", {
        store,
        guard,
        primaryPort: async (jobId) =>
          (await cluster.roles(`{${jobId}}`)).primary.port,
      });
    } finally {
      await guard.close();
      await store.close();
      await cluster.stop();
    }
  },
});

Deno.test({
  name:
    "two round trips: a store on another deployment, or another layout, or not on Valkey, does not share the guard",
  ignore: !available,
  fn: async () => {
    const one = await startValkeyServer();
    const two = await startValkeyServer();
    const guard = await ValkeyExecutionGuard.connect(one.url, LEASE);
    const elsewhere = await ValkeyStateStore.connect(two.url);
    const otherLayout = await ValkeyStateStore.connect(one.url, {
      keyLayout: "cluster",
      keyPrefix: "other-layout:",
    });
    try {
      assert.equal(elsewhere.sharesWith(guard), false);
      assert.equal(otherLayout.sharesWith(guard), false);
      assert.equal(canWriteLeased(new InMemoryStateStore(), guard), false);
      assert.equal(
        await ValkeyStateStore.resilient(one.url).then(async (store) => {
          const shares = canWriteLeased(store, guard);
          await store.close();
          return shares;
        }),
        true,
        "the resilient wrapper passes its primary's two trips through",
      );
    } finally {
      await otherLayout.close();
      await elsewhere.close();
      await guard.close();
      await two.stop();
      await one.stop();
    }
  },
});

Deno.test({
  name:
    "two round trips with WAIT durability, behind Sentinel: each script is followed by its WAIT; a shortfall at the end is a failed release, one at the grant a contended occurrence, and run() goes on",
  ignore: !available,
  fn: async () => {
    const sentinel = await startSentinelSet();
    const connection = { sentinels: sentinel.sentinels, name: sentinel.name };
    const store = await ValkeyStateStore.connect(connection);
    const guard = await ValkeyExecutionGuard.connect(connection, LEASE, {
      durability: { replicas: 1, timeoutMs: 300 },
    });
    const primary = await sentinel.primary();
    const replica = sentinel.data.find((node) => node.port !== primary.port)!;
    let stopped = false;
    try {
      const cost = await runCost({
        store,
        guard,
        primaryPort: () => Promise.resolve(primary.port),
      }, { delivery: "at-least-once", tag: "durable" });
      // A WAIT after the grant and after the end.
      for (const name of ["evalsha", "wait"]) {
        const count = cost.sentByName.get(name) ?? 0;
        assert.ok(Math.abs(count - 2) <= SLACK, byName(cost.sentByName));
      }
      // The replica stops acknowledging while a run goes on: its end is
      // saved on the primary, and reported as a failed release.
      const at = Date.now() + 100;
      const scheduler = Scheduler.withExecutionGuard({}, store, guard);
      const events = recordEvents(scheduler);
      const report = await scheduler.run(
        Job.withoutDeps(
          "durable-end",
          Schedule.atTimes([at]),
          Task.fromSync(() => {
            Deno.kill(replica.pid, "SIGSTOP");
            stopped = true;
          }),
        ).withDelivery("at-least-once"),
      );
      assert.equal(report.stopReason, "terminal");
      assert.notEqual(report.state.lastSuccessAt, null);
      const failed = ofType(events, "execution-guard-release-failed");
      assert.equal(failed.length, 1);
      assert.match(failed[0].error, /0 of 1 replica\(s\) acknowledged/);
      assert.equal(
        (await store.load("durable-end"))?.lastSuccessAt?.getTime(),
        report.state.lastSuccessAt?.getTime(),
        "the completion is saved",
      );
      assert.deepEqual(await guard.inFlight.list("durable-end"), []);
      // Still not acknowledging: the next grant is not run, run() goes on
      // (and is stopped here), the occurrence's record stays to be
      // replayed once its lease runs out.
      const next = Date.now() + 100;
      const second = Scheduler.withExecutionGuard({}, store, guard);
      const secondEvents = recordEvents(second);
      second.addEventListener(
        "execution-guard-contended",
        () => second.handle().shutdown(),
      );
      let ran = 0;
      const stopReport = await second.run(
        Job.withoutDeps(
          "durable-grant",
          Schedule.atTimes([next, next + 3_600_000]),
          Task.fromSync(() => void ran++),
        ).withDelivery("at-least-once"),
      );
      assert.equal(stopReport.stopReason, "shutdown");
      assert.equal(ran, 0);
      const [contended] = ofType(secondEvents, "execution-guard-contended");
      assert.match(contended?.note ?? "", /0 of 1 replica\(s\) acknowledged/);
      assert.equal(
        stopReport.state.triggerCount,
        1,
        "the consumption is saved",
      );
      const [record] = await guard.inFlight.list("durable-grant");
      assert.ok((record?.remainingMs ?? 0) > 0, "its lease runs out later");
    } finally {
      if (stopped) Deno.kill(replica.pid, "SIGCONT");
      await guard.close();
      await store.close();
      await sentinel.stop();
    }
  },
});
