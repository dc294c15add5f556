/**
 * The scheduler on the Valkey leased writes (`src/valkey/_lua_leased.ts`)
 * under at-least-once, against the same runs on Deno KV's: damaged ledger
 * data met when a run ends is reported and `run()` goes on (the run's
 * record saved), and an occurrence another instance gave back is replayed
 * by a live instance that was never contended for it (the grant's record
 * count makes it look at the ledger). Real servers on loopback; real time,
 * short intervals and generous limits. Ignored without valkey-server.
 */
import assert from "node:assert/strict";
import { schedule, type SchedulerEvent } from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { cli } from "./_valkey_topology.ts";

const available = await hasValkeyServer();
const HASH = "scheduler:valkey:execution-lease:j:in-flight";

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function until(what: string, ok: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

for (
  const damage of [
    { what: "a record that does not decode", kind: "record" },
    { what: "an in-flight hash of another type", kind: "hash" },
  ]
) {
  Deno.test({
    name:
      `leased runs, Valkey: ${damage.what} when a run ends is reported (release failed, kind data) and run() goes on`,
    ignore: !available,
    fn: async () => {
      await withValkeyServer(async (server) => {
        const store = await ValkeyStateStore.connect(server.url);
        const guard = await ValkeyExecutionGuard.connect(server.url, {
          ttlMs: 5_000,
          renewIntervalMs: 1_000,
          completedRetentionMs: 0,
        });
        const events: SchedulerEvent[] = [];
        let runs = 0;
        try {
          const job = schedule({ everyMs: 200 }, {
            jobId: "j",
            store,
            guard,
            delivery: "at-least-once",
            maxRuns: 3,
            observer: { onEvent: (event) => void events.push(event) },
          }, async () => {
            if (++runs !== 1) return;
            if (damage.kind === "record") {
              const field = (await cli(server.port, "HKEYS", HASH)).trim();
              await cli(server.port, "HSET", HASH, field, "not json{");
            } else {
              await cli(server.port, "DEL", HASH);
              await cli(server.port, "SET", HASH, "garbage");
            }
          });
          const report = await job.done;
          assert.equal(report.stopReason, "terminal");
          assert.equal(report.history.length, 3);
          const failed = events.filter((e) =>
            e.type === "execution-guard-release-failed"
          );
          assert.equal(failed.length, 1, JSON.stringify(failed));
          assert.equal((failed[0] as { errorKind: string }).errorKind, "data");
          assert.match(
            (failed[0] as { error: string }).error,
            /state was saved.*set aside/,
          );
          assert.equal((await store.load("j"))?.triggerCount, 3, "saved");
          assert.deepEqual(await guard.inFlight.list("j"), []);
        } finally {
          await guard.close();
          await store.close();
        }
      });
    },
  });
}

Deno.test({
  name:
    "leased runs, Valkey: an occurrence given back by a cancelled instance is replayed by a live one that was never contended for it",
  ignore: !available,
  fn: async () => {
    await withValkeyServer(async (server) => {
      const lease = { ttlMs: 2_000, renewIntervalMs: 500 };
      const storeA = await ValkeyStateStore.connect(server.url);
      const guardA = await ValkeyExecutionGuard.connect(server.url, lease);
      const storeB = await ValkeyStateStore.connect(server.url);
      const guardB = await ValkeyExecutionGuard.connect(server.url, lease);
      const common = {
        jobId: "j",
        delivery: "at-least-once" as const,
        missedRunPolicy: "skip" as const,
      };
      const seenByB: { at: number; replayed: boolean }[] = [];
      try {
        const b = schedule({ everyMs: 500 }, {
          ...common,
          store: storeB,
          guard: guardB,
        }, ({ run }) => {
          seenByB.push({
            at: run.scheduledAt.getTime(),
            replayed: run.replayed === true,
          });
        });
        await until("B's first run", () => seenByB.length > 0);
        b.pause();
        await sleep(100);
        let taken!: (at: number) => void;
        const started = new Promise<number>((done) => taken = done);
        const a = schedule({ everyMs: 500 }, {
          ...common,
          store: storeA,
          guard: guardA,
        }, async ({ run, signal }) => {
          taken(run.scheduledAt.getTime());
          await new Promise((_, fail) =>
            signal.addEventListener("abort", () => fail(signal.reason))
          );
        });
        const given = await started;
        a.cancel();
        await a.done.catch(() => {});
        assert.equal(await cli(server.port, "HLEN", HASH), "1", "given back");
        // Resumed past it (missedRunPolicy skip): B's own grants only.
        await sleep(1_200);
        b.resume();
        await until(
          "B replays the given-back occurrence",
          () => seenByB.some((r) => r.at === given && r.replayed),
        );
        assert.ok(seenByB.some((r) => r.at > given && !r.replayed), "past it");
        b.shutdown();
        await b.done;
        assert.equal(await cli(server.port, "HLEN", HASH), "0");
      } finally {
        for (const closing of [guardA, guardB]) await closing.close();
        for (const closing of [storeA, storeB]) await closing.close();
      }
    });
  },
});
