/**
 * A lost reply on the single-script path of a store and a guard on one
 * deployment (`src/valkey/_lua_leased.ts`), on a real server behind a
 * proxy that lets the script run, drops its reply and cuts the connection
 * (`_valkey_cut_proxy.ts`). The retry of `saveAndAcquire` gets the same
 * grant back (its token, its record, the state it saved) and another
 * instance stays contended; a retried `saveAndEnd` ends the run as once.
 * Ignored without valkey-server.
 */
import assert from "node:assert/strict";
import type { ExecutionLease } from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { LEASED_ACQUIRE, LEASED_END } from "../src/valkey/_lua_leased.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { cli } from "./_valkey_topology.ts";
import { commandStats } from "./_valkey_counting.ts";
import { type CutProxy, startCutProxy } from "./_valkey_cut_proxy.ts";
import { LEASE, leasedSlot, leasedState } from "./_valkey_leased.ts";

const available = await hasValkeyServer();
const PREFIX = "scheduler:valkey:execution-lease:";
const FENCE = `${PREFIX}j:fencing-token`;
const HASH = `${PREFIX}j:in-flight`;
const AT = leasedSlot("j", 2).scheduledAt.toISOString().replace(
  ".000Z",
  ".000000000Z",
);
const LEASE_KEY = `${PREFIX}j:${AT}`;

interface Pair {
  readonly store: ValkeyStateStore;
  readonly guard: ValkeyExecutionGuard;
}

interface Scene {
  /** The pair behind the proxy. */
  readonly cut: Pair;
  /** Another instance's pair, on the server directly. */
  readonly other: Pair;
  readonly proxy: CutProxy;
  readonly cli: (...args: string[]) => Promise<string>;
  readonly port: number;
}

async function pair(url: string): Promise<Pair> {
  const store = await ValkeyStateStore.connect(url);
  const guard = await ValkeyExecutionGuard.connect(url, LEASE);
  return { store, guard };
}

/** Runs `body` with pairs, the proxy dropping `script`'s first reply. */
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
    const cut = await pair(proxy.url);
    const other = await pair(server.url);
    try {
      await body({ cut, other, proxy, cli: run, port: server.port });
    } finally {
      for (const { store, guard } of [cut, other]) {
        await guard.close();
        await store.close();
      }
      await proxy.close();
    }
  });
}

const leaseWritten = async (run: Scene["cli"]) =>
  await run("EXISTS", LEASE_KEY) === "1";

/** What `pair` answers for the occurrence of trigger 2 (state after it). */
function grant(pair: Pair, record: boolean) {
  return pair.store.saveAndAcquire({
    guard: pair.guard,
    state: leasedState("j", 3),
    slot: leasedSlot("j", 2),
    record,
  });
}

function granted(answer: { kind: string; lease?: ExecutionLease }) {
  assert.equal(answer.kind, "acquired", "the retry gets its own grant back");
  return answer.lease!;
}

for (const record of [true, false]) {
  Deno.test({
    name: `lost reply, Valkey saveAndAcquire ${
      record ? "with" : "without"
    } a record: the retry gets the same grant, one allotment, the state saved; another instance is contended`,
    ignore: !available,
    fn: async () => {
      await withCut(LEASED_ACQUIRE, leaseWritten, async (scene) => {
        const answer = await grant(scene.cut, record);
        const lease = granted(answer);
        assert.equal(scene.proxy.cuts, 1, "the first reply was dropped");
        // TIME is read once per allotment (the token's clock floor).
        assert.equal((await commandStats(scene.port)).get("time"), 1);
        assert.equal(await scene.cli("GET", FENCE), String(lease.fencingToken));
        assert.deepEqual(
          await scene.other.store.load("j"),
          leasedState("j", 3),
          "the state saved",
        );
        const value = await scene.cli("GET", LEASE_KEY);
        assert.equal(lease.token, value);
        if (record) {
          assert.equal(answer.inFlight, 1);
          const [written] = await scene.other.guard.inFlight!.list("j");
          assert.equal(written.holder, lease.token);
          assert.equal(written.fencingToken, lease.fencingToken);
          assert.equal(written.triggerCount, 2);
        } else {
          assert.match(
            value,
            new RegExp(`^lease-\\d{20}-${lease.fencingToken}$`),
          );
          assert.equal(await scene.cli("HLEN", HASH), "0");
        }
        assert.equal((await grant(scene.other, record)).kind, "contended");
        assert.equal((await grant(scene.cut, record)).kind, "contended");
        assert.equal((await commandStats(scene.port)).get("time"), 1);
        // The run ends as any: done marker, record cleared.
        await scene.cut.store.saveAndEnd({
          guard: scene.cut.guard,
          state: leasedState("j", 3),
          lease,
          end: record ? "complete" : "release",
        });
        assert.equal(await scene.cli("GET", LEASE_KEY), `done:${value}`);
        assert.equal(await scene.cli("HLEN", HASH), "0");
      });
    },
  });
}

Deno.test({
  name:
    "lost reply, Valkey saveAndEnd: the retry of a run's end saves the state, marks the lease done and clears the record, without an error",
  ignore: !available,
  fn: async () => {
    const done = async (run: Scene["cli"]) =>
      (await run("GET", LEASE_KEY)).startsWith("done:");
    await withCut(LEASED_END, done, async (scene) => {
      const lease = granted(await grant(scene.cut, true));
      const ended = { ...leasedState("j", 3), lastError: "ran" };
      await scene.cut.store.saveAndEnd({
        guard: scene.cut.guard,
        state: ended,
        lease,
        end: "complete",
      });
      assert.equal(scene.proxy.cuts, 1, "the end's first reply was dropped");
      assert.deepEqual(await scene.other.store.load("j"), ended);
      assert.equal(await scene.cli("GET", LEASE_KEY), `done:${lease.token}`);
      assert.equal(await scene.cli("HLEN", HASH), "0");
    });
  },
});

for (const record of [true, false]) {
  Deno.test({
    name: `lost reply, Valkey saveAndAcquire ${
      record ? "with" : "without"
    } a record: a late retry gets its grant back with a full ttl, not the first attempt's remaining time`,
    ignore: !available,
    fn: async () => {
      // Once the script ran, the lease key keeps 5 s of its ttl, as if the
      // retry came that late; the caller renews only after renewIntervalMs.
      const ranLate = async (run: Scene["cli"]) => {
        if (!await leaseWritten(run)) return false;
        await run("PEXPIRE", LEASE_KEY, "5000");
        return true;
      };
      await withCut(LEASED_ACQUIRE, ranLate, async (scene) => {
        granted(await grant(scene.cut, record));
        assert.equal(scene.proxy.cuts, 1);
        assert.equal((await commandStats(scene.port)).get("time"), 1);
        const left = Number(await scene.cli("PTTL", LEASE_KEY));
        assert.ok(left > 25_000, `the regranted lease has ${left} ms`);
      });
    },
  });
}
