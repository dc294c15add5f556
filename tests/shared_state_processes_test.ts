/**
 * Shared state with real processes, on Deno KV and on Valkey: three instances
 * share one state store (20 ms latency per call, starts 5 ms apart) and an
 * execution guard.
 *
 * - Atomic first state: one instance creates it, the others adopt it (one
 *   grid), so each occurrence runs exactly once — no extra run.
 * - Saves never go backwards: a watcher polling the stored value sees its
 *   trigger count and instants never decrease.
 * - Fencing across a counter reset (the KV file deleted, Valkey restarted
 *   empty): the tokens of a later process are strictly greater.
 *
 * Real processes and real time (a few seconds per test).
 */
import assert from "node:assert/strict";
import { Valkey } from "iovalkey";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { runScript } from "./_processes.ts";
import type { InstanceOptions } from "./fixtures/_shared_state_options.ts";

const INSTANCE = new URL(
  "./fixtures/shared_state_instance.ts",
  import.meta.url,
);

interface InstanceResult {
  code: number;
  stderr: string;
  loaded: { source: string; nextRunAt: number }[];
  runs: { scheduledAt: number; token: bigint }[];
  done: string | undefined;
}

async function spawnInstance(
  options: InstanceOptions,
): Promise<InstanceResult> {
  const output = await runScript(INSTANCE, { args: [JSON.stringify(options)] });
  const lines = output.stdout.split("\n");
  const words = (prefix: string) =>
    lines.filter((line) => line.startsWith(`${prefix} `)).map((line) =>
      line.split(" ")
    );
  return {
    code: output.code,
    stderr: output.stderr,
    loaded: words("loaded").map(([, source, next]) => ({
      source,
      nextRunAt: Number(next),
    })),
    runs: words("ran").map(([, at, token]) => ({
      scheduledAt: Number(at),
      token: BigInt(token),
    })),
    done: lines.find((line) => line.startsWith("done ")),
  };
}

/** One observation of the stored state's monotonic fields. */
interface Observed {
  triggerCount: number;
  lastRunAt: number;
  lastSuccessAt: number;
}

function observe(text: unknown): Observed | undefined {
  if (typeof text !== "string") return undefined;
  const value = JSON.parse(text);
  const ms = (field: string) =>
    value[field] === null ? -Infinity : Date.parse(value[field]);
  return {
    triggerCount: value.trigger_count,
    lastRunAt: ms("last_run_at"),
    lastSuccessAt: ms("last_success_at"),
  };
}

/** Polls `read` every few ms until `stop` aborts; returns what it saw. */
async function watch(
  read: () => Promise<unknown>,
  stop: AbortSignal,
): Promise<Observed[]> {
  const seen: Observed[] = [];
  while (!stop.aborted) {
    const observed = observe(await read());
    if (observed !== undefined) seen.push(observed);
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
  return seen;
}

function assertNeverBackwards(seen: Observed[]): void {
  assert.ok(seen.length > 10, `the watcher saw ${seen.length} states`);
  for (let i = 1; i < seen.length; i++) {
    for (
      const field of ["triggerCount", "lastRunAt", "lastSuccessAt"] as const
    ) {
      assert.ok(
        seen[i][field] >= seen[i - 1][field],
        `stored ${field} went back: ${seen[i - 1][field]} → ${seen[i][field]}`,
      );
    }
  }
}

const EVERY_MS = 200;
const MAX_RUNS = 8;

async function threeInstances(
  base: Pick<InstanceOptions, "backend" | "target" | "jobId">,
  read: () => Promise<unknown>,
): Promise<void> {
  const startAt = Date.now() + 2_000;
  const stop = new AbortController();
  const watching = watch(read, stop.signal);
  let results: InstanceResult[];
  try {
    results = await Promise.all([0, 1, 2].map((i) =>
      spawnInstance({
        ...base,
        everyMs: EVERY_MS,
        maxRuns: MAX_RUNS,
        startAt: startAt + i * 5,
        latencyMs: 20,
        taskMs: 30,
      })
    ));
  } finally {
    stop.abort();
  }
  const seen = await watching;
  for (const [i, result] of results.entries()) {
    assert.equal(result.code, 0, `instance ${i}: ${result.stderr}`);
    assert.equal(result.done, `done terminal ${MAX_RUNS}`, `instance ${i}`);
  }
  // One first state, adopted by the others: one grid.
  const loaded = results.map((result) => result.loaded[0]);
  assert.equal(loaded.filter((l) => l.source === "new").length, 1);
  assert.equal(new Set(loaded.map((l) => l.nextRunAt)).size, 1, "one grid");
  // Each occurrence ran exactly once: no extra run.
  const runs = results.flatMap((result) => result.runs);
  assert.equal(runs.length, MAX_RUNS, "runs");
  assert.equal(new Set(runs.map((run) => run.scheduledAt)).size, MAX_RUNS);
  // Tokens order grants, not occurrences (docs/recovery.md): on a loaded
  // machine a later occurrence may be granted before an earlier one's grant
  // on another instance, so what holds is that no token is issued twice.
  const tokens = runs.map((run) => run.token);
  assert.equal(new Set(tokens).size, tokens.length, tokens.join(", "));
  assertNeverBackwards(seen);
  assert.equal(seen.at(-1)?.triggerCount, MAX_RUNS, "the stored count");
}

async function oneInstance(
  base: Pick<InstanceOptions, "backend" | "target" | "jobId">,
): Promise<bigint[]> {
  const result = await spawnInstance({
    ...base,
    everyMs: 100,
    maxRuns: 3,
    startAt: 0,
    latencyMs: 0,
    taskMs: 5,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.done, "done terminal 3");
  return result.runs.map((run) => run.token);
}

function assertAbove(later: bigint[], earlier: bigint[]): void {
  assert.equal(later.length, 3);
  const highest = earlier.reduce((a, b) => (b > a ? b : a));
  for (const token of later) {
    assert.ok(token > highest, `${token} > ${highest}`);
  }
}

Deno.test("Deno KV, 3 processes: one first state, each occurrence once, stored state never backwards", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/shared.kv`;
  const kv = await Deno.openKv(path);
  try {
    await threeInstances(
      { backend: "kv", target: path, jobId: "kv-shared" },
      async () => (await kv.get(["scheduler", "job-state", "kv-shared"])).value,
    );
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Deno KV, processes across a deleted file: later tokens are strictly greater", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/fence.kv`;
  try {
    const base = { backend: "kv" as const, target: path, jobId: "kv-fence" };
    const before = await oneInstance(base);
    await Deno.remove(dir, { recursive: true });
    await Deno.mkdir(dir);
    assertAbove(await oneInstance(base), before);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

const valkey = await hasValkeyServer();

Deno.test({
  name:
    "Valkey, 3 processes: one first state, each occurrence once, stored state never backwards",
  ignore: !valkey,
  fn: async () => {
    await withValkeyServer(async (server) => {
      const raw = new Valkey(server.url);
      try {
        await threeInstances(
          { backend: "valkey", target: server.url, jobId: "valkey-shared" },
          () => raw.get("scheduler:valkey:job-state:valkey-shared"),
        );
      } finally {
        const ended = new Promise((resolve) => raw.once("end", resolve));
        await raw.quit();
        await ended;
      }
    });
  },
});

Deno.test({
  name:
    "Valkey, processes across a server restarted empty: later tokens are strictly greater",
  ignore: !valkey,
  fn: async () => {
    await withValkeyServer(async (server) => {
      const base = {
        backend: "valkey" as const,
        target: server.url,
        jobId: "valkey-fence",
      };
      const before = await oneInstance(base);
      await server.restart();
      assertAbove(await oneInstance(base), before);
    });
  },
});
