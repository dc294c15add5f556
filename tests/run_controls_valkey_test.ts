/**
 * Run controls against a real `valkey-server` (state in
 * `ValkeyStateStore`, leases in `ValkeyExecutionGuard`): the same behaviour
 * as in memory. Real time (Valkey I/O is real); every wait is short and the
 * assertions tolerate scheduling delays.
 */
import assert from "node:assert/strict";
import { Valkey } from "iovalkey";
import {
  InMemoryStateStore,
  Job,
  type LeaseConfig,
  Schedule,
  Scheduler,
  Task,
  TriggerNowError,
} from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { recordEvents, stateLoaded } from "./_engine_helpers.ts";
import {
  hasValkeyServer,
  type ValkeyServer,
  withValkeyServer,
} from "./_valkey_server.ts";
import { jitterDelay } from "../src/scheduler/job/_jitter.ts";

const available = await hasValkeyServer();

function valkeyTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `Valkey run controls: ${name}`, ignore: !available, fn });
}

const LEASE: LeaseConfig = { ttlMs: 2_000, renewIntervalMs: 100 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The README's lease key of an occurrence, with the default prefix. */
function leaseKey(jobId: string, at: number): string {
  const iso = new Date(at).toISOString().replace(/Z$/, "000000Z");
  return `scheduler:valkey:execution-lease:${jobId}:${iso}`;
}

/** Runs `body` with a server, a guard factory and a raw client, all closed. */
async function withValkey(
  body: (
    server: ValkeyServer,
    guard: (lease?: LeaseConfig) => Promise<ValkeyExecutionGuard>,
    raw: InstanceType<typeof Valkey>,
  ) => Promise<void>,
): Promise<void> {
  await withValkeyServer(async (server) => {
    const guards: ValkeyExecutionGuard[] = [];
    const raw = new Valkey(server.url, { lazyConnect: true });
    raw.on("error", () => {});
    await raw.connect();
    try {
      await body(server, async (lease = LEASE) => {
        const guard = await ValkeyExecutionGuard.connect(server.url, lease);
        guards.push(guard);
        return guard;
      }, raw);
    } finally {
      await Promise.all(guards.map((guard) => guard.close()));
      const ended = new Promise<void>((resolve) => raw.once("end", resolve));
      await raw.quit().catch(() => raw.disconnect());
      await Promise.race([ended, sleep(1_000)]);
    }
  });
}

valkeyTest(
  "a timed-out run keeps its lease until the task settles",
  async () => {
    await withValkey(async (_server, guard, raw) => {
      const at = Date.now() + 50;
      const key = leaseKey("vk-timeout", at);
      const midRun: (string | null)[] = [];
      const job = Job.withoutDeps(
        "vk-timeout",
        Schedule.atTimes([at]),
        Task.fromAsync(async () => {
          await sleep(250); // past the 100 ms limit, ignoring the signal
          midRun.push(await raw.get(key));
          await sleep(100);
        }),
      ).withRunTimeout(100);
      const scheduler = new Scheduler({}, new InMemoryStateStore(), {
        guard: await guard(),
      });
      const events = recordEvents(scheduler);
      const report = await scheduler.run(job);
      assert.equal(report.history[0].status, "timed-out");
      assert.equal(events.filter((e) => e.type === "run-timed-out").length, 1);
      // Held (a token, not the done marker) after the timeout; done after.
      assert.equal(midRun.length, 1);
      assert.ok(midRun[0] !== null && !midRun[0].startsWith("done:"));
      assert.ok((await raw.get(key))?.startsWith("done:"));
    });
  },
);

valkeyTest(
  "retries keep the lease and fencing token; state is saved in Valkey",
  async () => {
    await withValkey(async (server, guard) => {
      const store = await ValkeyStateStore.connect(server.url);
      try {
        const tokens: (bigint | undefined)[] = [];
        const job = Job.withoutDeps(
          "vk-retry",
          Schedule.atTimes([Date.now() + 30]),
          Task.fromSync(({ run }) => {
            tokens.push(run.fencingToken);
            if (run.attempt < 3) throw new Error(`attempt ${run.attempt}`);
          }),
        ).withRetry({ attempts: 3, backoffMs: [20] });
        const scheduler = new Scheduler({}, store, { guard: await guard() });
        const events = recordEvents(scheduler);
        const report = await scheduler.run(job);
        assert.deepEqual(report.history.map((r) => r.status), [
          "failed",
          "failed",
          "success",
        ]);
        assert.equal(tokens.length, 3);
        assert.equal(new Set(tokens).size, 1);
        assert.equal(typeof tokens[0], "bigint");
        assert.deepEqual(
          events.flatMap((e) => e.type === "run-retrying" ? [e.attempt] : []),
          [2, 3],
        );
        const stored = await store.load("vk-retry");
        assert.equal(stored?.triggerCount, 1);
        assert.equal(stored?.lastError, null);
      } finally {
        await store.close();
      }
    });
  },
);

valkeyTest(
  "triggerNow on two instances with one requestedAt runs once",
  async () => {
    await withValkey(async (_server, guard) => {
      const runs: string[] = [];
      const job = (who: string) =>
        Job.withoutDeps(
          "vk-manual",
          Schedule.cron("0 0 1 1 *"),
          Task.fromSync(() => void runs.push(who)),
        );
      const a = new Scheduler({}, new InMemoryStateStore(), {
        guard: await guard(),
      });
      const b = new Scheduler({}, new InMemoryStateStore(), {
        guard: await guard(),
      });
      const ready = Promise.all([stateLoaded(a), stateLoaded(b)]);
      const running = Promise.all([a.run(job("a")), b.run(job("b"))]);
      await ready;
      const requestedAt = Date.now();
      const results = await Promise.allSettled([
        a.handle().triggerNow({ requestedAt }),
        b.handle().triggerNow({ requestedAt }),
      ]);
      a.handle().shutdown();
      b.handle().shutdown();
      await running;
      assert.equal(runs.length, 1);
      const fulfilled = results.filter((r) => r.status === "fulfilled");
      const rejected = results.filter((r) => r.status === "rejected");
      assert.equal(fulfilled.length, 1);
      assert.equal(rejected.length, 1);
      const error = (rejected[0] as PromiseRejectedResult).reason;
      assert.ok(error instanceof TriggerNowError);
      assert.equal(error.kind, "contended");
    });
  },
);

valkeyTest(
  "a jittered occurrence runs once across two instances, after its delay",
  async () => {
    await withValkey(async (_server, guard) => {
      const at = Date.now() + 50;
      const jitter = jitterDelay("vk-jitter", at, 300);
      const seen: { scheduledAt: number; jitterMs: number; at: number }[] = [];
      const job = Job.withoutDeps(
        "vk-jitter",
        Schedule.atTimes([at]),
        Task.fromSync(({ run }) => {
          seen.push({
            scheduledAt: run.scheduledAt.getTime(),
            jitterMs: run.jitterMs,
            at: Date.now(),
          });
        }),
      ).withJitter(300);
      const a = new Scheduler({}, new InMemoryStateStore(), {
        guard: await guard(),
      });
      const b = new Scheduler({}, new InMemoryStateStore(), {
        guard: await guard(),
      });
      const events = [...[a, b].map(recordEvents)];
      await Promise.all([a.run(job), b.run(job)]);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].scheduledAt, at);
      assert.equal(seen[0].jitterMs, jitter);
      assert.ok(seen[0].at >= at + jitter, "not before its jittered instant");
      assert.equal(
        events.flat().filter((e) => e.type === "execution-guard-contended")
          .length,
        1,
      );
    });
  },
);
