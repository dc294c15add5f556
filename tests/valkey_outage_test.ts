/**
 * Scheduling survives Valkey outages against a real `valkey-server`: killed
 * and restarted under three scheduler processes, paused with SIGSTOP past
 * the retry budget, and garbage in lease keys.
 *
 * Real processes and a real server, so real time: each wait is short, and
 * the assertions allow for a slow machine (no exact timings).
 */
import assert from "node:assert/strict";
import { Valkey } from "iovalkey";
import {
  InMemoryStateStore,
  InvalidJobError,
  Job,
  MissedRunPolicy,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  StoreError,
  Task,
} from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { recordEvents } from "./_engine_helpers.ts";
import { assertGuardError } from "./_assert_errors.ts";
import { runScript } from "./_processes.ts";
import {
  hasValkeyServer,
  startValkeyServer,
  type ValkeyServer,
  withValkeyServer,
} from "./_valkey_server.ts";

const available = await hasValkeyServer();

function valkeyTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `Valkey outage: ${name}`, ignore: !available, fn });
}

const INSTANCE = new URL("./fixtures/valkey_instance.ts", import.meta.url);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sleepUntil(at: number): Promise<void> {
  return sleep(Math.max(0, at - Date.now()));
}

function runInstance(args: string[]) {
  return runScript(INSTANCE, { args });
}

/** The lines of `stdout` that start with `word`, split into fields. */
function lines(stdout: string, word: string): string[][] {
  return stdout.split("\n").filter((line) => line.startsWith(`${word} `))
    .map((line) => line.split(" "));
}

valkeyTest(
  "three processes survive a 3 s kill and restart with plain stores: the job goes on, nothing runs twice, skips are reported",
  async () => {
    const server = await startValkeyServer();
    try {
      const gap = 200;
      const count = 45;
      const start = Date.now() + 3_500; // time for three processes to start
      const instants = Array.from({ length: count }, (_, i) => start + i * gap);
      // Killed between two occurrences, so no instance is mid-acquire.
      const killAt = start + 7 * gap + gap / 2;
      const running = [0, 1, 2].map((i) =>
        runInstance([
          server.url,
          `state-${i}:`,
          "outage-job",
          instants.join(","),
        ])
      );
      await sleepUntil(killAt);
      await server.stop();
      await sleep(3_000);
      await server.restart();
      const restartedAt = Date.now();
      const results = await Promise.all(running);

      const ledger = new Map<number, number>();
      for (const [i, result] of results.entries()) {
        assert.equal(
          result.code,
          0,
          `instance ${i} stopped:\n${result.stdout}\n${result.stderr}`,
        );
        assert.match(
          result.stdout,
          new RegExp(`^done terminal ${count}$`, "m"),
        );
        const ran = lines(result.stdout, "ran").map(([, at]) => Number(at));
        for (const at of ran) ledger.set(at, (ledger.get(at) ?? 0) + 1);
        const contended = lines(result.stdout, "contended").length;
        const unreadable = lines(result.stdout, "acquire-failed").length;
        const skipped = lines(result.stdout, "skipped")
          .reduce((sum, [, n]) => sum + Number(n), 0);
        // Every occurrence is accounted for: run, contended or reported.
        assert.equal(
          ran.length + contended + unreadable + skipped,
          count,
          `instance ${i}:\n${result.stdout}`,
        );
        // The occurrences due while the server was down were reported.
        assert.ok(skipped >= 5, `instance ${i} reported ${skipped} skipped`);
      }
      for (const [at, runs] of ledger) {
        assert.equal(runs, 1, `occurrence ${at} ran ${runs} times`);
      }
      const ranAt = [...ledger.keys()];
      assert.ok(
        ranAt.some((at) => at < killAt),
        "occurrences ran before the outage",
      );
      assert.ok(
        ranAt.some((at) => at > restartedAt),
        "occurrences ran after the restart: the job went on",
      );
    } finally {
      await server.stop();
    }
  },
);

valkeyTest(
  "a server paused past the budget: run() rejects with StoreError connection in bounded time, cancel() does not wait longer, close() is prompt",
  async () => {
    const server = await startValkeyServer();
    let paused = false;
    const store = await ValkeyStateStore.connect(server.url, {
      retryBudgetMs: 1_500,
    });
    const guard = await ValkeyExecutionGuard.connect(server.url, {
      ttlMs: 3_000,
      renewIntervalMs: 1_000,
    }, { retryBudgetMs: 1_500 });
    try {
      const scheduler = new Scheduler({}, store);
      const events = recordEvents(scheduler);
      let pausedAt = 0;
      const job = Job.withoutDeps(
        "paused-job",
        Schedule.interval(50),
        Task.fromSync(({ run }) => {
          // ">= 2", not "=== 2": on a busy machine occurrence 2 can be
          // merged into a later one (catch-up-once), and the test would
          // wait for a pause that never comes.
          if (run.triggerCount >= 2 && !paused) {
            Deno.kill(server.pid, "SIGSTOP");
            paused = true;
            pausedAt = Date.now();
          }
        }),
      );
      const running = scheduler.run(job);
      running.catch(() => {});
      // Bounded: a pause that never comes fails the test instead of hanging.
      const pauseDeadline = Date.now() + 30_000;
      while (!paused) {
        assert.ok(Date.now() < pauseDeadline, "the job reached its second run");
        await sleep(10);
      }
      scheduler.handle().cancel();
      // A guard call meets the same paused server meanwhile.
      const acquiring = assertGuardError(
        guard.acquire({ jobId: "paused-job", scheduledAt: new Date() }),
        "connection",
        "paused-job",
      );
      const error = await running.then(() => undefined, (error) => error);
      const settledMs = Date.now() - pausedAt;
      assert.ok(error instanceof StoreError, String(error));
      assert.equal(error.kind, "connection", error.message);
      assert.equal(error.operation, "save");
      // The budget (1.5 s) or the client's 5 s command timeout, whichever
      // is longer, plus slack for a busy machine.
      assert.ok(
        settledMs < 8_000,
        `run() settled ${settledMs} ms after the pause`,
      );
      const stopped = events.filter((e) => e.type === "scheduler-stopped");
      assert.equal(stopped.length, 1);
      assert.equal(
        (stopped[0] as Extract<SchedulerEvent, { type: "scheduler-stopped" }>)
          .reason,
        "failed",
      );
      await acquiring;
      assert.ok(Date.now() - pausedAt < 9_000, "the guard gave up too");

      const closing = Date.now();
      await store.close();
      await guard.close();
      assert.ok(
        Date.now() - closing < 3_000,
        `close() took ${Date.now() - closing} ms on a paused server`,
      );
    } finally {
      if (paused) Deno.kill(server.pid, "SIGCONT");
      await store.close();
      await guard.close();
      await server.stop();
    }
  },
);

/** A plain client for writing garbage. */
async function rawClient(server: ValkeyServer) {
  const client = new Valkey(server.url, {
    lazyConnect: true,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  await client.connect();
  return client;
}

valkeyTest(
  "garbage in lease keys: a string that is no token and a wrong-type key are reported naming the key and set aside under quarantine keys, and run; a Rust token is contended, a value that may be a holder's is contended with a note naming the key",
  async () => {
    await withValkeyServer(async (server) => {
      const raw = await rawClient(server);
      const guard = await ValkeyExecutionGuard.connect(server.url, {
        ttlMs: 3_000,
        renewIntervalMs: 1_000,
      });
      try {
        const start = Date.now() + 300;
        const times = [0, 1, 2, 3, 4, 5].map((i) => start + i * 100);
        const key = (at: number) => guard.leaseKey("garbage-job", new Date(at));
        await raw.set(key(times[1]), "\u0000not-a-token");
        await raw.hset(key(times[2]), "token", "x");
        // A Rust holder's token, with its expiry (SET NX PX).
        await raw.set(
          key(times[4]),
          "lease-1775178123000000000-7",
          "PX",
          60_000,
        );
        await raw.set(key(times[5]), "lease-from-elsewhere");
        const scheduler = Scheduler.withExecutionGuard(
          {},
          new InMemoryStateStore(),
          guard,
        );
        const events = recordEvents(scheduler);
        const ran: number[] = [];
        const report = await scheduler.run(
          Job.withoutDeps(
            "garbage-job",
            Schedule.atTimes(times),
            Task.fromSync(({ run }) =>
              void ran.push(run.scheduledAt.getTime())
            ),
            // Each occurrence is decided on its own even when a busy
            // machine makes several come due at once (catch-up-once would
            // then skip the garbage keys this test is about).
          ).withMissedRunPolicy(MissedRunPolicy.ReplayAll),
        );
        // The damaged keys were set aside, so each occurrence's second ask
        // (docs/recovery.md) was granted: nothing lost to them.
        assert.deepEqual(ran, [times[0], times[1], times[2], times[3]]);
        assert.equal(report.stopReason, "terminal");
        assert.equal(report.state.triggerCount, 6);
        const contended = events.filter((e) =>
          e.type === "execution-guard-contended"
        ) as Extract<SchedulerEvent, { type: "execution-guard-contended" }>[];
        assert.deepEqual(contended.map((e) => e.scheduledAt.getTime()), [
          times[4],
          times[5],
        ]);
        // A real Rust holder is contention as usual; a value that only
        // looks like one is contended too, but never silently.
        assert.equal(contended[0].note, undefined);
        assert.ok(contended[1].note?.includes(key(times[5])));
        assert.ok(contended[1].note?.includes("lease-from-elsewhere"));
        assert.equal(await raw.get(key(times[5])), "lease-from-elsewhere");
        const failed = events.filter((e) =>
          e.type === "execution-guard-acquire-failed"
        ) as Extract<
          SchedulerEvent,
          { type: "execution-guard-acquire-failed" }
        >[];
        assert.deepEqual(failed.map((e) => e.scheduledAt.getTime()), [
          times[1],
          times[2],
        ]);
        assert.ok(failed[0].error.includes(key(times[1])), failed[0].error);
        assert.ok(failed[0].error.includes("damaged lease"), failed[0].error);
        assert.ok(failed[1].error.includes(key(times[2])), failed[1].error);
        assert.ok(failed[1].error.includes("hash"), failed[1].error);
        for (const { error } of failed) {
          assert.ok(error.includes(":quarantine:"), error);
        }
        // Set aside for an operator to look at, the string as it was.
        const aside = await raw.keys("*garbage-job:quarantine:*");
        assert.equal(aside.length, 2);
        const types = await Promise.all(aside.map((k) => raw.type(k)));
        assert.deepEqual([...types].sort(), ["hash", "string"]);
        const asideString = aside[types.indexOf("string")];
        assert.equal(await raw.get(asideString), "\u0000not-a-token");
        // Data errors are never retried by the guard (the default budget is
        // 10 s).
        const moved = aside[types.indexOf("hash")];
        assert.equal(await raw.type(moved), "hash");
        await raw.del(key(times[2])); // the done marker of its run
        await raw.hset(key(times[2]), "token", "x");
        const started = Date.now();
        await assertGuardError(
          guard.acquire({
            jobId: "garbage-job",
            scheduledAt: new Date(times[2]),
          }),
          "data",
          key(times[2]),
        );
        // Far below the 10 s budget a retried call would take, even on a
        // loaded machine.
        assert.ok(Date.now() - started < 3_000, "answered without retrying");
      } finally {
        await guard.close();
        await raw.quit();
      }
    });
  },
);

valkeyTest("retryBudgetMs is validated before any connection", async () => {
  for (const bad of [-5, 2.5, "1000"]) {
    const named = (what: string) => (error: unknown) =>
      error instanceof InvalidJobError && error.kind === "other" &&
      error.message.includes(`${what} retryBudgetMs`) &&
      error.message.includes(String(bad));
    await assert.rejects(
      ValkeyStateStore.connect("redis://127.0.0.1:1", {
        retryBudgetMs: bad as number,
      }),
      named("ValkeyStateStore.connect"),
    );
    await assert.rejects(
      ValkeyStateStore.resilient("redis://127.0.0.1:1", {
        retryBudgetMs: bad as number,
      }),
      named("ValkeyStateStore.resilient"),
    );
    await assert.rejects(
      ValkeyExecutionGuard.connect("redis://127.0.0.1:1", {
        ttlMs: 3_000,
        renewIntervalMs: 1_000,
      }, { retryBudgetMs: bad as number }),
      named("ValkeyExecutionGuard"),
    );
  }
});

valkeyTest(
  "a plain store rides out a short restart in process, and a closed store fails at once",
  async () => {
    const server = await startValkeyServer();
    const store = await ValkeyStateStore.connect(server.url);
    try {
      const state = {
        jobId: "blip",
        triggerCount: 1,
        lastRunAt: null,
        lastSuccessAt: null,
        nextRunAt: new Date(0),
        lastError: null,
      };
      await server.stop();
      const saving = store.save(state);
      await sleep(1_000);
      await server.restart();
      await saving; // retried until the client reconnected
      assert.deepEqual(await store.load("blip"), state);
    } finally {
      await store.close();
      await server.stop();
    }
    const started = Date.now();
    await assert.rejects(
      store.load("blip"),
      (error: unknown) =>
        error instanceof StoreError && error.kind === "connection",
    );
    assert.ok(Date.now() - started < 1_000, "no retry once closed");
  },
);
