/**
 * Fencing tokens keep increasing across a counter reset (Valkey restarted
 * empty, the KV counter or file gone), the guard reports the reset with a
 * `fencing-reset` event, and tokens beyond 2^53 stay exact.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  type ExecutionGuard,
  type ExecutionGuardAcquire,
  type FencingResetDetail,
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { DEFAULT_LEASE_KEY_PREFIX } from "../src/deno_kv/execution_guard.ts";
import { recordEvents } from "./_engine_helpers.ts";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const LEASE = { ttlMs: 5_000, renewIntervalMs: 1_000 };
const T = Date.UTC(2026, 3, 3, 1, 2, 3);

function token(answer: ExecutionGuardAcquire): bigint {
  assert.equal(answer.kind, "acquired");
  assert.ok(answer.kind === "acquired");
  return answer.lease.fencingToken!;
}

async function grant(guard: ExecutionGuard, jobId: string, at: number) {
  return token(await guard.acquire({ jobId, scheduledAt: new Date(at) }));
}

function resets(guard: EventTarget): FencingResetDetail[] {
  const seen: FencingResetDetail[] = [];
  guard.addEventListener("fencing-reset", (event) => {
    seen.push((event as CustomEvent<FencingResetDetail>).detail);
  });
  return seen;
}

Deno.test("Deno KV: a deleted counter re-seeds above every earlier token and is reported", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const seen = resets(guard);
    const before = [
      await grant(guard, "job", T),
      await grant(guard, "job", T + 1),
    ];
    assert.equal(before[1], before[0] + 1n);
    await kv.delete(["scheduler", "execution-lease", "fence", "job"]);
    const after = await grant(guard, "job", T + 2);
    assert.ok(after > before[1], `${after} > ${before[1]}`);
    assert.deepEqual(seen, [{
      type: "fencing-reset",
      jobId: "job",
      previousFencingToken: before[1],
      fencingToken: after,
    }]);
    // A counter found behind (restored from an old backup) is raised too.
    await kv.set(["scheduler", "execution-lease", "fence", "job"], 3n);
    const raised = await grant(guard, "job", T + 3);
    assert.equal(raised, after + 1n);
    assert.equal(seen.length, 2);
    assert.equal(seen[1].previousFencingToken, after);
  } finally {
    kv.close();
  }
});

Deno.test("Deno KV: a new file gives a fresh guard tokens above the old file's (time-seeded)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/fence.kv`;
    let kv = await Deno.openKv(path);
    const old = await grant(new DenoKvExecutionGuard(kv, LEASE), "job", T);
    kv.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.mkdir(dir);
    await new Promise((resolve) => setTimeout(resolve, 2));
    kv = await Deno.openKv(path);
    const fresh = await grant(new DenoKvExecutionGuard(kv, LEASE), "job", T);
    kv.close();
    assert.ok(fresh > old, `${fresh} > ${old}`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("fencing-reset listeners that throw do not break the guard", async () => {
  const kv = await Deno.openKv(":memory:");
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void errors.push(args);
  try {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    guard.addEventListener("fencing-reset", () => {
      throw new Error("listener bug");
    });
    await grant(guard, "job", T);
    await kv.delete(["scheduler", "execution-lease", "fence", "job"]);
    await grant(guard, "job", T + 1);
    assert.equal(errors.length, 1, "the throw was logged");
  } finally {
    console.error = original;
    kv.close();
  }
});

const valkey = await hasValkeyServer();

Deno.test({
  name:
    "Valkey: tokens stay increasing when the server restarts empty, and the reset is reported",
  ignore: !valkey,
  fn: async () => {
    await withValkeyServer(async (server) => {
      const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
      try {
        const seen = resets(guard);
        const first = await grant(guard, "job", T);
        const second = await grant(guard, "job", T + 1);
        assert.ok(second > first, `${second} > ${first}`);
        await server.restart();
        let after: bigint | undefined;
        for (let attempt = 0; attempt < 100 && after === undefined; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          after = await grant(guard, "job", T + 2).catch(() => undefined);
        }
        assert.ok(after !== undefined, "the guard reconnected");
        assert.ok(after > second, `${after} > ${second}`);
        assert.equal(seen.length, 1);
        assert.equal(seen[0].previousFencingToken, second);
        assert.equal(seen[0].fencingToken, after);
        // A fresh guard (no memory of earlier tokens) after another reset
        // still gets a higher token: the counter starts from server time.
        await server.restart();
        const fresh = await ValkeyExecutionGuard.connect(server.url, LEASE);
        try {
          const next = await grant(fresh, "job", T + 3);
          assert.ok(next > after, `${next} > ${after}`);
        } finally {
          await fresh.close();
        }
      } finally {
        await guard.close();
      }
    });
  },
});

Deno.test({
  name:
    "Valkey: a counter restored behind the highest token (an old backup) is raised above it, and the reset is reported",
  ignore: !valkey,
  fn: async () => {
    await withValkeyServer(async (server) => {
      const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
      const { Valkey } = await import("iovalkey");
      const raw = new Valkey(server.url);
      try {
        const seen = resets(guard);
        await grant(guard, "job", T);
        const highest = await grant(guard, "job", T + 1);
        // The counter goes back, but still exists: no "absent" to notice.
        await raw.set(
          "scheduler:valkey:execution-lease:job:fencing-token",
          String(highest - 10n),
        );
        const raised = await grant(guard, "job", T + 2);
        // Raised to the server's clock too (docs/valkey.md): above the
        // highest token, whichever of the two is ahead.
        assert.ok(raised > highest, `${raised} is above ${highest}`);
        assert.equal(seen.length, 1);
        assert.equal(seen[0].previousFencingToken, highest);
        assert.equal(seen[0].fencingToken, raised);
        assert.equal(
          await raw.get("scheduler:valkey:execution-lease:job:fencing-token"),
          String(raised),
          "the counter itself is raised, for every other instance",
        );
      } finally {
        await guard.close();
        const ended = new Promise((resolve) => raw.once("end", resolve));
        await raw.quit();
        await ended;
      }
    });
  },
});

Deno.test({
  name: "Valkey: tokens beyond 2^53 are exact and never collide",
  ignore: !valkey,
  fn: async () => {
    await withValkeyServer(async (server) => {
      const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
      const { Valkey } = await import("iovalkey");
      const raw = new Valkey(server.url);
      try {
        await raw.set(
          "scheduler:valkey:execution-lease:big:fencing-token",
          "9007199254740993",
        );
        const tokens = [
          await grant(guard, "big", T),
          await grant(guard, "big", T + 1),
          await grant(guard, "big", T + 2),
        ];
        assert.deepEqual(tokens, [
          9007199254740994n,
          9007199254740995n,
          9007199254740996n,
        ]);
      } finally {
        await guard.close();
        const ended = new Promise((resolve) => raw.once("end", resolve));
        await raw.quit();
        await ended;
      }
    });
  },
});

Deno.test("the scheduler forwards its guard's fencing-reset for its own job, as an event", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const scheduler = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    );
    const events = recordEvents(scheduler);
    const tokens: bigint[] = [];
    const start = Date.now();
    const job = Job.withoutDeps(
      "forwarded",
      Schedule.atTimes([start + 20, start + 40]),
      Task.fromAsync(async ({ run }) => {
        tokens.push(run.fencingToken!);
        // The counter is lost between the two occurrences.
        await kv.delete([...DEFAULT_LEASE_KEY_PREFIX, "fence", "forwarded"]);
      }),
    );
    // Another job's reset on the same guard is not this scheduler's.
    await grant(guard, "other", T);
    await kv.delete([...DEFAULT_LEASE_KEY_PREFIX, "fence", "other"]);
    const report = scheduler.run(job);
    await grant(guard, "other", T + 1);
    assert.equal((await report).stopReason, "terminal");
    const forwarded = events.filter((event) => event.type === "fencing-reset");
    assert.equal(tokens.length, 2);
    assert.ok(tokens[1] > tokens[0]);
    assert.deepEqual(forwarded, [{
      type: "fencing-reset",
      jobId: "forwarded",
      previousFencingToken: tokens[0],
      fencingToken: tokens[1],
    }]);
  } finally {
    kv.close();
  }
});
