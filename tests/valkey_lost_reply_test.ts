/**
 * A grant whose reply is lost, on a real server: a proxy between the
 * guard and the server (`_valkey_cut_proxy.ts`) lets the granting script
 * run, drops its reply and cuts the connection, and the guard's retry gets
 * the same grant back: the token of the script's one allotment, the lease
 * and record it wrote, while another instance and a later acquire of the
 * same guard stay contended (docs/valkey.md, "A grant whose reply was
 * lost"). The guard is driven directly, on each granting path: the plain
 * acquire, the in-flight acquire and a reclaim. Ignored without
 * valkey-server.
 */
import assert from "node:assert/strict";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import type { ExecutionLease } from "../mod.ts";
import { ACQUIRE } from "../src/valkey/_lua_lease.ts";
import {
  IN_FLIGHT_ACQUIRE,
  IN_FLIGHT_RECLAIM,
} from "../src/valkey/_lua_in_flight.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { cli } from "./_valkey_topology.ts";
import { commandStats } from "./_valkey_counting.ts";
import { type CutProxy, startCutProxy } from "./_valkey_cut_proxy.ts";

const available = await hasValkeyServer();
const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };
const PREFIX = "scheduler:valkey:execution-lease:";
const FENCE = `${PREFIX}j:fencing-token`;
const HASH = `${PREFIX}j:in-flight`;
const AT = "2026-03-01T12:00:00.000000000Z";
const LEASE_KEY = `${PREFIX}j:${AT}`;
const SLOT = {
  jobId: "j",
  scheduledAt: new Date("2026-03-01T12:00:00Z"),
  triggerCount: 3,
  catchUp: false,
};

interface Scene {
  /** The guard that connects through the proxy. */
  readonly cut: ValkeyExecutionGuard;
  /** Another instance, connected to the server directly. */
  readonly other: ValkeyExecutionGuard;
  readonly proxy: CutProxy;
  readonly cli: (...args: string[]) => Promise<string>;
  readonly port: number;
}

/**
 * Runs `body` with a guard behind a proxy that drops the reply of
 * `script`'s first run (once `ran` says it ran), and another guard.
 */
async function withCut(
  script: string,
  ran: (cli: Scene["cli"]) => Promise<boolean>,
  body: (scene: Scene) => Promise<void>,
): Promise<void> {
  await withValkeyServer(async (server) => {
    const run = (...args: string[]) => cli(server.port, ...args);
    const proxy = await startCutProxy({
      target: server.port,
      script,
      ran: () => ran(run),
    });
    const cut = await ValkeyExecutionGuard.connect(proxy.url, LEASE);
    const other = await ValkeyExecutionGuard.connect(server.url, LEASE);
    try {
      await body({ cut, other, proxy, cli: run, port: server.port });
    } finally {
      await cut.close();
      await other.close();
      await proxy.close();
    }
  });
}

const leaseWritten = async (run: Scene["cli"]) =>
  await run("EXISTS", LEASE_KEY) === "1";

/** The granted lease; fails the test on `contended`. */
function granted(
  answer: { kind: string; lease?: ExecutionLease },
): ExecutionLease {
  assert.equal(answer.kind, "acquired", "the retry gets its own grant back");
  return answer.lease!;
}

/** The commands the server ran, by name (scripts' own commands included). */
async function calls(port: number, name: string): Promise<number> {
  return (await commandStats(port)).get(name) ?? 0;
}

Deno.test({
  name:
    "lost reply, Valkey acquire: the retry gets the same grant (one INCR, its token, its lease); another instance and a later acquire stay contended",
  ignore: !available,
  fn: async () => {
    await withCut(ACQUIRE, leaseWritten, async (scene) => {
      const lease = granted(await scene.cut.acquire(SLOT));
      assert.equal(scene.proxy.cuts, 1, "the first reply was dropped");
      assert.equal(await calls(scene.port, "incr"), 1, "one allotment");
      assert.equal(await scene.cli("GET", FENCE), String(lease.fencingToken));
      // The lease value carries the acquire id and the token.
      const value = await scene.cli("GET", LEASE_KEY);
      assert.equal(lease.token, value);
      assert.match(value, new RegExp(`^lease-\\d{20}-${lease.fencingToken}$`));
      assert.deepEqual(await scene.other.acquire(SLOT), { kind: "contended" });
      assert.deepEqual(await scene.cut.acquire(SLOT), { kind: "contended" });
      assert.equal(await calls(scene.port, "incr"), 1, "no grant since");
      // It is the holder's lease: renewed and released as such.
      assert.equal(await scene.cut.renew(lease), "renewed");
      await scene.cut.release(lease);
      assert.equal(await scene.cli("GET", LEASE_KEY), `done:${value}`);
      assert.deepEqual(await scene.other.acquire(SLOT), { kind: "contended" });
      // A grant of another occurrence comes after it.
      const next = granted(
        await scene.other.acquire({
          jobId: "j",
          scheduledAt: new Date("2026-03-01T17:00:00Z"),
        }),
      );
      assert.ok(next.fencingToken! > lease.fencingToken!);
    });
  },
});

Deno.test({
  name:
    "lost reply, Valkey acquire: a lease the old code wrote (a UUID) stays contended for every acquire, its lost answer's retry too",
  ignore: !available,
  fn: async () => {
    await withCut(ACQUIRE, leaseWritten, async (scene) => {
      const uuid = crypto.randomUUID();
      await scene.cli("SET", LEASE_KEY, uuid, "PX", "30000");
      assert.deepEqual(await scene.cut.acquire(SLOT), { kind: "contended" });
      assert.deepEqual(await scene.other.acquire(SLOT), { kind: "contended" });
      assert.equal(await scene.cli("GET", LEASE_KEY), uuid, "untouched");
      // The first answer was cut too: its retry is no more than a retry.
      assert.equal(scene.proxy.cuts, 1);
      assert.equal(await calls(scene.port, "incr"), 0, "nothing allotted");
    });
  },
});

Deno.test({
  name:
    "lost reply, Valkey in-flight acquire: the retry gets the same grant and the record as written; after completing, nothing is left to replay",
  ignore: !available,
  fn: async () => {
    await withCut(IN_FLIGHT_ACQUIRE, leaseWritten, async (scene) => {
      const lease = granted(await scene.cut.inFlight!.acquire(SLOT));
      assert.equal(scene.proxy.cuts, 1);
      assert.equal(await calls(scene.port, "incr"), 1, "one allotment");
      assert.equal(await scene.cli("GET", FENCE), String(lease.fencingToken));
      assert.equal(await scene.cli("GET", LEASE_KEY), lease.token);
      const records = await scene.other.inFlight!.list("j");
      assert.equal(records.length, 1);
      assert.equal(records[0].holder, lease.token);
      assert.equal(records[0].fencingToken, lease.fencingToken);
      assert.equal(records[0].triggerCount, 3);
      assert.ok(records[0].remainingMs > 20_000, "held, not up for replay");
      assert.deepEqual(
        await scene.other.inFlight!.acquire(SLOT),
        { kind: "contended" },
      );
      assert.deepEqual(
        await scene.cut.inFlight!.acquire(SLOT),
        { kind: "contended" },
      );
      await scene.cut.inFlight!.complete(lease);
      assert.deepEqual(await scene.other.inFlight!.list("j"), []);
      assert.equal(await scene.cli("GET", LEASE_KEY), `done:${lease.token}`);
    });
  },
});

Deno.test({
  name:
    "lost reply, Valkey reclaim: the retry of a reclaim gets the same grant, the record rewritten once for it",
  ignore: !available,
  fn: async () => {
    // The reclaim's script runs once the dead holder's lease is gone; it
    // has run when the record names another holder.
    let dead = "";
    const reclaimed = async (run: Scene["cli"]) =>
      dead !== "" && !(await run("HGET", HASH, AT)).includes(dead);
    await withCut(IN_FLIGHT_RECLAIM, reclaimed, async (scene) => {
      const first = granted(await scene.other.inFlight!.acquire(SLOT));
      dead = first.token;
      await scene.cli("DEL", LEASE_KEY); // its holder died, the lease ran out
      const [record] = await scene.cut.inFlight!.list("j");
      assert.equal(record.remainingMs, 0);
      const lease = granted(await scene.cut.inFlight!.reclaim(record));
      assert.equal(scene.proxy.cuts, 1);
      assert.equal(await calls(scene.port, "incr"), 2, "grant and reclaim");
      assert.ok(lease.fencingToken! > first.fencingToken!);
      assert.equal(await scene.cli("GET", FENCE), String(lease.fencingToken));
      const [now] = await scene.other.inFlight!.list("j");
      assert.equal(now.holder, lease.token);
      assert.equal(now.fencingToken, lease.fencingToken);
      assert.deepEqual(
        await scene.other.inFlight!.reclaim(record),
        { kind: "contended" },
      );
    });
  },
});

/**
 * A `ran` that also makes the retry late: once the script ran, the lease
 * key is left with `LATE_LEFT_MS` of its `ttlMs`, as if the retry came
 * that long before the first attempt's lease ran out. The caller renews
 * only after `renewIntervalMs`, so a regrant must give a full ttl.
 */
const LATE_LEFT_MS = 5_000;
const ranLate = async (run: Scene["cli"]) => {
  if (!await leaseWritten(run)) return false;
  await run("PEXPIRE", LEASE_KEY, String(LATE_LEFT_MS));
  return true;
};

for (
  const [name, script, acquire] of [
    ["acquire", ACQUIRE, (guard) => guard.acquire(SLOT)],
    [
      "in-flight acquire",
      IN_FLIGHT_ACQUIRE,
      (guard) => guard.inFlight!.acquire(SLOT),
    ],
  ] as const satisfies readonly (readonly [
    string,
    string,
    (guard: ValkeyExecutionGuard) => Promise<unknown>,
  ])[]
) {
  Deno.test({
    name:
      `lost reply, Valkey ${name}: a late retry gets its grant back with a full ttl, not the first attempt's remaining time`,
    ignore: !available,
    fn: async () => {
      await withCut(script, ranLate, async (scene) => {
        granted(
          await acquire(scene.cut) as { kind: string; lease?: ExecutionLease },
        );
        assert.equal(scene.proxy.cuts, 1);
        assert.equal(await calls(scene.port, "incr"), 1, "a regrant");
        const left = Number(await scene.cli("PTTL", LEASE_KEY));
        assert.ok(
          left > LEASE.ttlMs - LATE_LEFT_MS,
          `the regranted lease has ${left} ms of ${LEASE.ttlMs}`,
        );
      });
    },
  });
}
